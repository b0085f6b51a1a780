"""Faithfulness curves drawn as small plots: under each scored panel of the per-class figure,
and as one MoRF | LeRF pair beside the Compare view's faithfulness table."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from drawn_explanations import random_explanation
from engine.jobs import Explanation
from engine.metrics import json_summary
from engine.render import (
    class_curves,
    class_scores,
    draw_class,
    draw_comparison,
    new_figure,
    save_class_png,
)

CLASSES = [4, 7]


def _explanation(method: str, seed: int) -> Explanation:
    return random_explanation(method, seed, CLASSES, ["four", "seven"], [0.7, 0.2], image_seed=0)


def _result(seed, good):
    """An engine.metrics.faithfulness result for classes 4 and 7 with 8 steps; ``good``
    methods fall fast when the top cells go first (MoRF) and slowly when they go last (LeRF)."""
    x = np.linspace(0, 1, 9, dtype=np.float32)
    rng = np.random.default_rng(seed)
    speed = 6.0 if good else 1.5
    morf = np.stack([np.exp(-speed * x), np.exp(-speed * x)]) + rng.uniform(0, 0.01, (2, 9))
    lerf = np.stack([1 - np.exp(-speed * (1 - x)), 0.9 - 0.9 * np.exp(-speed * (1 - x))])
    random_morf = np.stack([1 - x, 1 - x])
    random_lerf = np.stack([1 - x, 0.9 * (1 - x)])
    auc = lambda curves: [float(np.trapezoid(c, x)) for c in curves]  # noqa: E731
    srg = [lerf_auc - morf_auc for lerf_auc, morf_auc in zip(auc(lerf), auc(morf))]
    return {"classes": CLASSES, "steps": 8, "srg": srg, "morf_auc": auc(morf), "lerf_auc": auc(lerf),
            "random_srg_mean": [0.0, 0.0], "random_srg_sd": [0.05, 0.05],
            "better_than_random": [v > 0.1 for v in srg],
            "fractions": x, "morf_curves": morf.astype(np.float32), "lerf_curves": lerf.astype(np.float32),
            "random_morf_curves": random_morf.astype(np.float32),
            "random_lerf_curves": random_lerf.astype(np.float32)}


def _drawn(draw, *args, width, height, **kwargs):
    figure = new_figure(width, height)
    FigureCanvasAgg(figure)
    draw(figure, *args, **kwargs)
    figure.canvas.draw()
    return figure


def _curve_plots(figure) -> dict:
    return {child.get_gid().split(":", 1)[1]: (ax, child) for ax in figure.axes for child in ax.child_axes
            if (child.get_gid() or "").startswith("curves:")}


def _lines(ax) -> dict:
    return {line.get_gid(): line for line in ax.lines}


EXPLANATIONS = [_explanation("shap", 1), _explanation("lime", 2), _explanation("ig", 3),
                _explanation("gradcam", 4)]
METRICS = {"shap": _result(1, good=False), "ig": _result(2, good=True)}  # LIME, Grad-CAM unscored


# Five panels are limited by the figure's width, three by its height (the harder layout).
@pytest.mark.parametrize("class_index, methods", [(4, 4), (7, 4), (4, 2)])
def test_curves_sit_under_exactly_the_scored_panels_and_show_the_given_data(class_index, methods):
    k = CLASSES.index(class_index)
    # The window's figure at its usual size (about 1050 × 500 pixels).
    figure = _drawn(draw_class, EXPLANATIONS[:methods], class_index, None, class_scores(METRICS, class_index),
                    None, class_curves(METRICS, class_index), width=10.5, height=5.0)
    plots = _curve_plots(figure)
    assert set(plots) == ({"shap", "ig"} if methods == 4 else {"shap"})
    tops = set()
    for method, (panel, plot) in plots.items():
        lines = _lines(plot)
        assert set(lines) == {"method:morf", "method:lerf", "random:morf", "random:lerf"}
        for name in ("morf", "lerf"):
            for gid, key in ((f"method:{name}", f"{name}_curves"), (f"random:{name}", f"random_{name}_curves")):
                x, y = lines[gid].get_data()
                np.testing.assert_allclose(x, METRICS[method]["fractions"])
                np.testing.assert_allclose(y, METRICS[method][key][k], rtol=1e-6)
            assert lines[f"random:{name}"].get_linestyle() == "--"
            assert lines[f"method:{name}"].get_linestyle() == "-"
        # Under its own panel at its width, or (a wide figure) in the column beside it;
        # either way below the panel's score text.
        box, image = plot.get_window_extent(), panel.get_window_extent()
        (score,) = [t for t in panel.texts if t.get_gid() == "faithfulness"]
        if box.x0 > image.x1:
            assert box.y1 < score.get_window_extent().y0 and box.y0 >= image.y0 - 1.0
        else:
            assert box.x0 == pytest.approx(image.x0, abs=1.0) and box.width == pytest.approx(image.width, abs=1.0)
            assert box.y1 < score.get_window_extent().y0 < image.y0
        # Readable at the window's size: not a sliver, and inside the figure with its tick labels.
        assert box.height > 50 and box.width > 120
        assert plot.get_tightbbox().y0 >= 0
        tops.add(round(box.y1))
        assert plot.get_ylim() == plots["shap"][1].get_ylim()  # one probability axis for all
    assert len(tops) == 1
    keys = [legend for ax in figure.axes for child in ax.child_axes
            for legend in [child.get_legend()] if legend is not None and legend.get_gid() == "curve-key"]
    assert len(keys) == 1


def test_no_curves_without_scores_or_without_curve_data():
    unscored = _drawn(draw_class, EXPLANATIONS, 4, None, None, None, class_curves(METRICS, 4),
                      width=10.5, height=5.0)
    assert _curve_plots(unscored) == {}
    # Scores read back from a JSON summary carry no curves: numbers only, no empty plots.
    summaries = {m: json_summary(r) for m, r in METRICS.items()}
    assert class_curves(summaries, 4) == {}
    numbers_only = _drawn(draw_class, EXPLANATIONS, 4, None, class_scores(summaries, 4), None,
                          class_curves(summaries, 4), width=10.5, height=5.0)
    assert _curve_plots(numbers_only) == {}
    assert sum(t.get_gid() == "faithfulness" for ax in numbers_only.axes for t in ax.texts) == 2


def test_a_short_figure_keeps_its_maps_and_scores_and_leaves_the_curves_out():
    # A laptop's results area: about 1050 × 280 pixels.
    figure = _drawn(draw_class, EXPLANATIONS, 4, None, class_scores(METRICS, 4), None,
                    class_curves(METRICS, 4), width=10.5, height=2.8)
    assert _curve_plots(figure) == {}
    assert sum(t.get_gid() == "faithfulness" for ax in figure.axes for t in ax.texts) == 2
    maps = [ax for ax in figure.axes if ax.images and ax.get_title() in ("SHAP (Partition)", "LIME")]
    assert maps and all(ax.get_window_extent().height > 60 for ax in maps)


def test_class_curves_pick_one_class_and_leave_the_json_summary_alone():
    curves = class_curves(METRICS, 7)
    assert set(curves) == {"shap", "ig"}
    np.testing.assert_allclose(curves["ig"]["lerf"], METRICS["ig"]["lerf_curves"][1])
    np.testing.assert_allclose(curves["ig"]["random_morf"], METRICS["ig"]["random_morf_curves"][1])
    assert class_curves(METRICS, 5) == {}  # a class nobody explained
    summary = json_summary(METRICS["ig"])
    assert "fractions" not in summary and "morf_curves" not in summary
    assert summary["srg"] == METRICS["ig"]["srg"]


def test_exported_png_holds_the_curves(tmp_path):
    plain, plotted = tmp_path / "plain.png", tmp_path / "curves.png"
    save_class_png(plain, EXPLANATIONS, 4, scores=class_scores(METRICS, 4))
    save_class_png(plotted, EXPLANATIONS, 4, scores=class_scores(METRICS, 4), curves=class_curves(METRICS, 4))
    with Image.open(plain) as a, Image.open(plotted) as b:
        assert b.width == a.width and b.height > a.height  # room made for the plots


def test_comparison_plots_every_scored_method_over_the_random_order():
    metrics = dict(METRICS, lime=_result(5, good=False))  # Grad-CAM stays unscored
    figure = _drawn(draw_comparison, EXPLANATIONS, 4, metrics, width=10.5, height=5.0)
    plots = {ax.get_gid(): ax for ax in figure.axes if (ax.get_gid() or "").startswith("compare-curves:")}
    assert set(plots) == {"compare-curves:morf", "compare-curves:lerf"}
    for name, ax in plots.items():
        curve = name.split(":")[1]
        lines = _lines(ax)
        assert set(lines) == {"shap", "lime", "ig", "random"}  # one per scored method, plus the baseline
        for method in ("shap", "lime", "ig"):
            np.testing.assert_allclose(lines[method].get_ydata(), metrics[method][f"{curve}_curves"][0], rtol=1e-6)
        np.testing.assert_allclose(lines["random"].get_ydata(), metrics["shap"][f"random_{curve}_curves"][0])
        assert lines["random"].get_linestyle() == "--"
        # IG separates MoRF from LeRF most: the most faithful, drawn thicker than the rest.
        assert lines["ig"].get_linewidth() > max(lines[m].get_linewidth() for m in ("shap", "lime"))
        assert len({lines[m].get_color() for m in ("shap", "lime", "ig")}) == 3
        assert ax.get_window_extent().height > 50
    # Beside the faithfulness table, not over it.
    (table,) = [t for ax in figure.axes for t in ax.tables if t.get_gid() == "faithfulness"]
    table_box = table.get_window_extent(figure.canvas.get_renderer())
    assert plots["compare-curves:morf"].get_tightbbox().x0 >= table_box.x1 - 1


def test_comparison_without_curve_data_keeps_two_tables():
    summaries = {m: json_summary(r) for m, r in METRICS.items()}
    figure = _drawn(draw_comparison, EXPLANATIONS, 4, summaries, width=10.5, height=5.0)
    assert not [ax for ax in figure.axes if (ax.get_gid() or "").startswith("compare-curves:")]
    assert [t.get_gid() for ax in figure.axes for t in ax.tables] == ["agreement", "faithfulness"]


def test_exported_maps_of_a_scored_method_carry_its_numbers_and_curves(tmp_path):
    from engine.export import write_explanation

    ig = EXPLANATIONS[2]
    plain = write_explanation(tmp_path / "plain", "photo", ig, "photo.png", [])
    scored = write_explanation(tmp_path / "scored", "photo", ig, "photo.png", [], faithfulness=METRICS["ig"])
    assert [p.name for p in plain] == [p.name for p in scored]
    for before, after in zip(plain[2:], scored[2:]):  # the per-class PNGs
        with Image.open(before) as a, Image.open(after) as b:
            assert b.height > a.height
    # The JSON summary stays numbers only.
    summary = (tmp_path / "scored" / "photo.ig.json").read_text()
    assert "srg" in summary and "morf_curves" not in summary
