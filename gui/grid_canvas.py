"""Draws a ``GridData`` with ``engine.render.draw_grid``: on the Grid tab's canvas and into
exported files, so both look the same.

The one addition to the engine's drawing: cells an image did not explain say so.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import Signal

from engine.render import draw_grid, draw_message, new_figure
from gui.grid_data import GridData

CELL_INCHES = 1.8  # exported cell size, as the command line's grid.png


def draw_grid_data(figure: Figure, data: GridData) -> None:
    draw_grid(figure, *data.drawing_args(), value_label=data.value_label)
    n, c = data.shape
    # draw_grid makes the n × (c + 1) panels first, row by row; the colour bar comes after.
    for row, col in zip(*data.missing.nonzero()):
        ax = figure.axes[row * (c + 1) + col + 1]
        ax.text(0.5, 0.5, "not\nexplained", transform=ax.transAxes, ha="center", va="center",
                fontsize=7, color="0.45")


def save_grid_data(file, data: GridData, fmt: str, dpi: int = 120) -> None:
    """PNG, PDF or SVG into an open file, sized like ``engine.render.save_grid``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    n, c = data.shape
    figure = new_figure(CELL_INCHES * (c + 1) + 0.6, CELL_INCHES * n + 1.0)
    FigureCanvasAgg(figure)
    draw_grid_data(figure, data)
    figure.savefig(file, dpi=dpi, format=fmt, facecolor="white")


def figure_format(path: Path) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    return suffix if suffix in ("png", "pdf", "svg") else "png"


class GridCanvas(FigureCanvasQTAgg):
    rendered = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(Figure(figsize=(8, 5), dpi=100, facecolor="white"))
        if parent is not None:
            self.setParent(parent)
        self.data: GridData | None = None
        self.render_count = 0

    def set_data(self, data: GridData | None, message: str = "") -> None:
        self.data = data
        if data is None:
            draw_message(self.figure, message)
        else:
            draw_grid_data(self.figure, data)
        self.draw_idle()

    def draw(self) -> None:
        super().draw()
        self.render_count += 1
        self.rendered.emit()
