"""The images × classes grid explains only the frames it draws."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from engine.render import draw_grid, grid_legend, new_figure


def drawn_legend(true_classes, predicted_classes) -> str:
    rng = np.random.default_rng(0)
    figure = new_figure(6, 4)
    FigureCanvasAgg(figure)
    draw_grid(figure, rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8),
              rng.normal(size=(2, 2, 16, 16)), ["cat", "dog"], ["a", "b"], true_classes, predicted_classes)
    return figure.get_suptitle()


@pytest.mark.parametrize("true_classes, predicted_classes, expected", [
    ([0, 1], [0, None], ["green frame", "orange frame"]),
    (None, [1, 0], ["orange frame"]),
    ([-1, None], [None, None], []),  # truth unknown, predictions outside the columns
    ([1, None], [None, None], ["green frame"]),
])
def test_the_legend_names_only_the_marks_some_cell_has(true_classes, predicted_classes, expected):
    legend = drawn_legend(true_classes, predicted_classes)
    for mark in ("green frame", "orange frame"):
        assert (mark in legend) == (mark in expected)
    assert legend == grid_legend(true_classes, predicted_classes, 2)
