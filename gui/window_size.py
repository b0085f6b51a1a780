"""The window's first size: the preferred one, shrunk to fit the screen it opens on."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize

MARGIN = 0.04  # of the screen, left free around the window (title bar, panels)


def fitted_size(preferred: QSize, available: QRect, minimum: QSize) -> QSize:
    """``preferred``, no larger than ``available`` less a margin, never below ``minimum``."""
    width = min(preferred.width(), int(available.width() * (1 - MARGIN)))
    height = min(preferred.height(), int(available.height() * (1 - MARGIN)))
    return QSize(max(width, minimum.width()), max(height, minimum.height()))


def fit_to_screen(window) -> None:
    """Resize and move ``window`` so that all of it lies on its screen (a saved geometry from a
    larger monitor, or the default size on a laptop, would hang off the edge)."""
    from PySide6.QtGui import QGuiApplication

    screen = window.screen()
    # The offscreen platform's 800×600 "screen" shows nothing: its pictures keep their size.
    if screen is None or QGuiApplication.platformName() == "offscreen":
        return
    available = screen.availableGeometry()
    size = fitted_size(window.size(), available, window.minimumSizeHint())
    if size != window.size():
        window.resize(size)
    frame = window.frameGeometry()
    x = min(max(frame.x(), available.x()), max(available.x(), available.right() - frame.width() + 1))
    y = min(max(frame.y(), available.y()), max(available.y(), available.bottom() - frame.height() + 1))
    if (x, y) != (frame.x(), frame.y()):
        window.move(x, y)
