"""numpy images to Qt images and back: the only pixel plumbing the window needs."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt
from PySide6.QtGui import QImage, QPixmap


def to_qimage(image: np.ndarray) -> QImage:
    """A deep copy, so the QImage never points into a numpy buffer that may go away."""
    data = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = data.shape[:2]
    return QImage(data.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def to_pixmap(image: np.ndarray, size: QSize | None = None) -> QPixmap:
    pixmap = QPixmap.fromImage(to_qimage(image))
    if size is not None:
        pixmap = pixmap.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                               Qt.TransformationMode.SmoothTransformation)
    return pixmap


def qimage_png_bytes(image: QImage) -> bytes:
    """Encode a QImage (e.g. from the clipboard) as PNG so ``engine.images`` can check it."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(QByteArray(buffer.data()))
