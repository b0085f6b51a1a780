"""The explanation and Compare figures at the sizes the window gives its canvas: every text
inside the figure, no two texts on top of each other, and maps that use the room.

Canvas sizes are the results canvas's at the window sizes named (1280×720, 1920×1080,
2560×1440 and a 1280×700 resize), measured in the real window. Figures are drawn as the
canvas draws them: ``draw_class`` / ``draw_comparison`` on a ``Figure`` of that size.
"""

import itertools
import warnings

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from drawn_explanations import random_explanation
from engine.jobs import Explanation
from engine.render import class_curves, class_scores, draw_class, draw_comparison

CANVAS = {"1280x720": (922, 312), "1920x1080": (1562, 672), "2560x1440": (2202, 1032),
          "1280x700": (922, 292)}
CLASSES = [4, 7]
METHODS = ("shap", "lime", "gradcam", "ig", "shap-gradient")
MIN_MAP_PX = 100  # a map smaller than this shows no detail
# Maps side by side must span this share of the figure's width or height: a layout that
# leaves wide empty bands beside or above and below them falls short of it.
MIN_COVER = 0.78


def _explanation(method: str, seed: int) -> Explanation:
    return random_explanation(method, seed, CLASSES, ["tabby cat", "Egyptian cat"], [0.71, 0.2], image_seed=None)


def _faithfulness(seed: int) -> dict:
    """An engine.metrics.faithfulness result for both classes, 8 steps, with curves."""
    x = np.linspace(0, 1, 9)
    speed = 2.0 + seed
    morf = np.stack([np.exp(-speed * x)] * 2)
    lerf = np.stack([1 - np.exp(-speed * (1 - x))] * 2)
    rand = np.stack([1 - x] * 2)
    auc = [float(np.trapezoid(c, x)) for c in morf], [float(np.trapezoid(c, x)) for c in lerf]
    srg = [b - a for a, b in zip(*auc)]
    return {"classes": CLASSES, "steps": 8, "srg": srg, "morf_auc": auc[0], "lerf_auc": auc[1],
            "random_srg_mean": [0.0, 0.0], "random_srg_sd": [0.05, 0.05],
            "better_than_random": [True, True], "fractions": x, "morf_curves": morf,
            "lerf_curves": lerf, "random_morf_curves": rand, "random_lerf_curves": rand}


def _inputs(count: int, scored: bool):
    explanations = [_explanation(m, i) for i, m in enumerate(METHODS[:count])]
    metrics = {m: _faithfulness(i) for i, m in enumerate(METHODS[:count])} if scored else {}
    return explanations, metrics


def _drawn(draw, size):
    """The figure drawn at ``size`` pixels; a layout warning (constrained layout giving up)
    fails the test."""
    width, height = size
    figure = Figure(figsize=(width / 100, height / 100), dpi=100)
    FigureCanvasAgg(figure)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*constrained_layout.*")
        warnings.filterwarnings("error", message=".*[Ll]ayout not applied.*")
        draw(figure)
        figure.canvas.draw()
    return figure


def _text_boxes(figure) -> list[tuple[str, object]]:
    """(text, window extent) of every visible, non-empty text, table cells included."""
    renderer = figure.canvas.get_renderer()
    # An axis keeps tick objects it does not draw (outside its limits): only drawn ones count.
    tick_labels, drawn = set(), set()
    for ax in [*figure.axes, *(child for ax in figure.axes for child in ax.child_axes)]:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                tick_labels.update((tick.label1, tick.label2))
            if axis.get_visible():
                for tick in axis._update_ticks():
                    drawn.update(label for label in (tick.label1, tick.label2) if label.get_visible())
    texts = [t for t in figure.findobj(Text) if t not in tick_labels or t in drawn]
    for ax in figure.axes:
        for table in ax.tables:
            texts += [cell.get_text() for cell in table.get_celld().values()]
    boxes = []
    for text in set(texts):
        if not text.get_visible() or not text.get_text().strip():
            continue
        if text.axes is not None and not text.axes.get_visible():
            continue
        boxes.append((text.get_text(), text.get_window_extent(renderer)))
    return boxes


def _geometry_problems(figure) -> list[str]:
    width, height = figure.bbox.width, figure.bbox.height
    boxes = _text_boxes(figure)
    problems = [f"outside: {name!r} at {box.bounds}" for name, box in boxes
                if box.x0 < -0.5 or box.y0 < -0.5 or box.x1 > width + 0.5 or box.y1 > height + 0.5]
    for (name_a, a), (name_b, b) in itertools.combinations(boxes, 2):
        overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
        overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
        if overlap_x > 0.5 and overlap_y > 0.5:  # touching is fine
            problems.append(f"overlap: {name_a!r} and {name_b!r}")
    return problems


def _image_axes(figure):
    """Axes that show an image (maps and the input; colour bars are not among them)."""
    renderer = figure.canvas.get_renderer()
    return [ax.get_window_extent(renderer) for ax in figure.axes
            if ax.images]


def _coverage(boxes, figure) -> tuple[float, float]:
    width = (max(b.x1 for b in boxes) - min(b.x0 for b in boxes)) / figure.bbox.width
    height = (max(b.y1 for b in boxes) - min(b.y0 for b in boxes)) / figure.bbox.height
    return width, height


@pytest.mark.parametrize("window", ["1280x720", "1920x1080"])
def test_explanation_figure_texts_inside_and_apart(window):
    explanations, metrics = _inputs(3, scored=True)
    figure = _drawn(lambda f: draw_class(f, explanations, 4, scores=class_scores(metrics, 4),
                                         curves=class_curves(metrics, 4)), CANVAS[window])
    assert not _geometry_problems(figure), _geometry_problems(figure)


@pytest.mark.parametrize("window", ["1280x720", "1920x1080", "2560x1440"])
@pytest.mark.parametrize("count", [1, 2, 3, 5])
@pytest.mark.parametrize("scored", [False, True])
def test_explanation_maps_fill_the_canvas(window, count, scored):
    explanations, metrics = _inputs(count, scored)
    figure = _drawn(lambda f: draw_class(f, explanations, 4, scores=class_scores(metrics, 4) or None,
                                         curves=class_curves(metrics, 4) or None), CANVAS[window])
    boxes = _image_axes(figure)
    assert len(boxes) == 1 + count
    smallest = min(min(b.width, b.height) for b in boxes)
    assert smallest >= MIN_MAP_PX, f"maps only {smallest:.0f} px"
    assert not _geometry_problems(figure), _geometry_problems(figure)
    if window != "1280x720":  # a laptop's canvas is too short for its maps to fill it
        cover = _coverage(boxes, figure)
        assert max(cover) >= MIN_COVER, f"maps span {cover[0]:.0%} of the width, {cover[1]:.0%} of the height"


@pytest.mark.parametrize("window", ["1280x720", "1920x1080", "1280x700"])
@pytest.mark.parametrize("scored", [False, True])
def test_compare_figure_texts_inside_and_apart(window, scored):
    explanations, metrics = _inputs(3, scored)
    figure = _drawn(lambda f: draw_comparison(f, explanations, 4, metrics or None), CANVAS[window])
    assert not _geometry_problems(figure), _geometry_problems(figure)
    boxes = _image_axes(figure)
    assert len(boxes) == 4
    smallest = min(min(b.width, b.height) for b in boxes)
    assert smallest >= MIN_MAP_PX, f"maps only {smallest:.0f} px"
