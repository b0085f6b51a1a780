"""The confusion matrix on a canvas that owns its ``Figure``; a click on a cell selects it.

Drawing is ``engine.render.draw_confusion_matrix``'s job (the command line's PNG looks the
same); this canvas only maps clicks to (true class, predicted class) and frames the chosen cell.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PySide6.QtCore import QPoint, Signal

from engine.render import draw_confusion_matrix, draw_message

MAX_LABELS = 30  # as draw_confusion_matrix's default: above it, only classes that occur are drawn
SELECTION_COLOUR = "#ff7f0e"


def shown_classes(matrix: np.ndarray, max_labels: int = MAX_LABELS) -> np.ndarray:
    """The class indices draw_confusion_matrix puts on the axes, in order (same rule)."""
    matrix = np.asarray(matrix)
    if len(matrix) > max_labels:
        return np.flatnonzero(matrix.sum(axis=0) + matrix.sum(axis=1))
    return np.arange(len(matrix))


class ConfusionMatrixCanvas(FigureCanvasQTAgg):
    cellClicked = Signal(int, int)  # true class index, predicted class index

    def __init__(self, parent=None) -> None:
        super().__init__(Figure(figsize=(5.5, 4.5), dpi=100, facecolor="white"))
        if parent is not None:
            self.setParent(parent)
        self.setMinimumSize(320, 280)
        self.setToolTip("Click a cell to list its images (rows: true class, columns: predicted)")
        self.result = None
        self.selected: tuple[int, int] | None = None
        self._shown = np.zeros(0, np.int64)
        self._matrix_axes = None
        self._frame: Rectangle | None = None
        self.mpl_connect("button_press_event", self._on_press)
        self.show_message("Evaluate a labelled folder to see its confusion matrix")

    def show_message(self, message: str) -> None:
        self.result, self.selected, self._matrix_axes, self._frame = None, None, None, None
        draw_message(self.figure, message)
        self.draw_idle()

    def set_result(self, result) -> None:
        self.result, self.selected, self._frame = result, None, None
        draw_confusion_matrix(self.figure, result, max_labels=MAX_LABELS)
        self._shown = shown_classes(result.confusion_matrix)
        # The matrix is the first axes; the colour bar comes after it.
        self._matrix_axes = self.figure.axes[0]
        self.draw_idle()

    def select_cell(self, true_class: int, predicted_class: int) -> None:
        """Select a cell by class indices (what a click does), and say so."""
        if self.result is None or true_class not in self._shown or predicted_class not in self._shown:
            return
        self.selected = (int(true_class), int(predicted_class))
        row, col = (int(np.flatnonzero(self._shown == c)[0]) for c in self.selected)
        if self._frame is not None:
            self._frame.remove()
        self._frame = Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor=SELECTION_COLOUR,
                                linewidth=3, gid="selected-cell")
        self._matrix_axes.add_patch(self._frame)
        self.draw_idle()
        self.cellClicked.emit(*self.selected)

    def cell_position(self, true_class: int, predicted_class: int) -> QPoint:
        """Widget coordinates of a cell's centre (logical pixels), e.g. for a mouse click."""
        self.draw()  # transforms are exact only after the current size was drawn
        row = int(np.flatnonzero(self._shown == true_class)[0])
        col = int(np.flatnonzero(self._shown == predicted_class)[0])
        x, y = self._matrix_axes.transData.transform((col, row))  # display pixels, origin bottom-left
        ratio = self.device_pixel_ratio or 1
        return QPoint(round(x / ratio), round((self.figure.bbox.height - y) / ratio))

    def _on_press(self, event) -> None:
        if self.result is None or event.inaxes is not self._matrix_axes or event.xdata is None:
            return
        row, col = int(round(event.ydata)), int(round(event.xdata))
        if 0 <= row < len(self._shown) and 0 <= col < len(self._shown):
            self.select_cell(int(self._shown[row]), int(self._shown[col]))
