"""The current image and the model's top classes, shown as soon as the engine has predicted."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QVBoxLayout,
)

from gui.engine_requests import PREDICTION_COUNT
from gui.image_entry import ImageEntry
from gui.qt_images import to_pixmap

PREVIEW = QSize(168, 168)
BAR_STEPS = 1000  # probability bars count in tenths of a percent


class PredictionsView(QFrame):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("predictionsView")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.preview = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.preview.setFixedSize(PREVIEW)
        self.preview.setObjectName("preview")
        self.title = QLabel()
        self.title.setObjectName("imageTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = QLabel()
        self.message.setObjectName("predictionMessage")
        self.message.setWordWrap(True)
        self.names: list[QLabel] = []
        self.bars: list[QProgressBar] = []
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(4)
        for row in range(PREDICTION_COUNT):
            name = QLabel()
            name.setMinimumWidth(170)
            name.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
            bar = QProgressBar()
            bar.setRange(0, BAR_STEPS)
            bar.setFixedSize(260, 18)
            bar.setTextVisible(True)
            grid.addWidget(name, row, 0)
            grid.addWidget(bar, row, 1)
            self.names.append(name)
            self.bars.append(bar)
        grid.setColumnStretch(2, 1)  # spare width goes right of the bars, not between
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.message)
        text.addLayout(grid)
        text.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(16)
        layout.addWidget(self.preview)
        layout.addLayout(text, 1)
        self.set_entry(None)

    def set_entry(self, entry: ImageEntry | None, model_state: str = "ready") -> None:
        if entry is None:
            self.preview.clear()
            self.preview.setText("No image")
            self.title.setText("<b>No image yet</b>")
            self._show_message("Drop photos or a folder anywhere on the window, "
                               "or use File ▸ Open (Ctrl+O) or File ▸ Open sample.")
            self._show_rows([])
            return
        self.preview.setPixmap(to_pixmap(entry.image, PREVIEW))
        height, width = entry.image.shape[:2]
        self.title.setText(f"<b>{_escape(entry.name)}</b>  <span style='color:#666'>"
                           f"{width}×{height}</span>")
        self.title.setToolTip(entry.source)
        if entry.prediction_error:
            self._show_message(f"<span style='color:#b3261e'>{_escape(entry.prediction_error)}</span>")
            self._show_rows([])
        elif entry.predictions is None:
            waiting = {"loading": "Loading the model…", "failed": "The model is not loaded.",
                       "idle": "Loading the model…"}.get(model_state, "Predicting…")
            self._show_message(waiting)
            self._show_rows([])
        else:
            self._show_message("Top classes:")
            self._show_rows(entry.predictions)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _show_rows(self, predictions) -> None:
        for row, (name, bar) in enumerate(zip(self.names, self.bars)):
            if row < len(predictions):
                prediction = predictions[row]
                name.setText(prediction.name)
                name.setToolTip(f"class {prediction.index}")
                bar.setValue(round(prediction.probability * BAR_STEPS))
                bar.setFormat(f"{prediction.probability:.1%}")
            name.setVisible(row < len(predictions))
            bar.setVisible(row < len(predictions))

    def shown_predictions(self) -> list[tuple[str, str]]:
        """(class name, bar text) for each visible row; used by tests and screenshots."""
        return [(n.text(), b.format()) for n, b in zip(self.names, self.bars) if not b.isHidden()]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
