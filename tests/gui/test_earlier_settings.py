"""Results made with earlier settings are marked as such until their method is recomputed."""

import numpy as np
from gui_helpers import wait_until_done
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from PySide6.QtCore import QEvent, QPoint
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip

from engine.jobs import Explanation
from engine.render import EARLIER_COLOUR, draw_class, draw_comparison, new_figure
from gui.result_settings import RequestedSettings, setting_differences
from gui.settings_store import ExplainSettings


def result(method: str, params: dict, classes=(0, 1)) -> Explanation:
    rng = np.random.default_rng(0)
    return Explanation(method=method, image=rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
                       classes=list(classes), class_names=[f"c{c}" for c in classes],
                       probabilities=[0.6, 0.3][: len(classes)],
                       maps=rng.normal(size=(len(classes), 32, 32)).astype(np.float32),
                       params=params, timings={}, versions={}, model="toy")


def test_differences_name_each_setting_that_changed_and_nothing_that_only_splits_work():
    requested = RequestedSettings.of(ExplainSettings(shap_max_evals=700, shap_batch_size=10, classes=3), 1000)
    shap = result("shap", {"masker": "inpaint_telea", "max_evals": 500, "batch_size": 50}, classes=(0, 1, 2))
    assert setting_differences(shap, requested) == ["max evaluations 500 → 700"]
    assert setting_differences(result("shap", {**shap.params, "max_evals": 700}, (0, 1, 2)), requested) == []
    # Fewer classes than asked for is a difference; a model with only two is not.
    assert setting_differences(result("shap", {**shap.params, "max_evals": 700}), requested) == ["classes 2 → 3"]
    two_class = RequestedSettings.of(ExplainSettings(shap_max_evals=700, classes=3), 2)
    assert setting_differences(result("shap", {**shap.params, "max_evals": 700}), two_class) == []
    # The IG seed only matters to its noise baseline; LIME's hide colour reads as a person would.
    ig = result("ig", {"steps": 32, "baseline": "black", "seed": 5, "batch_size": 32})
    assert setting_differences(ig, RequestedSettings.of(ExplainSettings(seed=0), None)) == []
    lime = result("lime", {"num_samples": 1000, "num_features": 1000, "hide_color": 0.0,
                           "segmentation": "quickshift", "seed": 0})
    mean = RequestedSettings.of(ExplainSettings(lime_hide_colour="mean"), None)
    assert setting_differences(lime, mean) == ["hide colour 0 → segment mean"]
    assert setting_differences(lime, None) == []  # never explained: nothing to be earlier than


def titles_of(figure, method_titles):
    return {ax.get_title(): ax.title for ax in figure.axes if ax.get_title().split("\n")[0] in method_titles}


def test_the_figures_grey_the_title_of_an_earlier_result_only():
    explanations = [result("shap", {}), result("lime", {})]
    explanations[1].extras = {"segments": np.arange(32 * 32).reshape(32, 32) // 64,
                              "segment_weights": np.ones((2, 16))}
    for draw in (lambda f: draw_class(f, explanations, 0, earlier={"shap"}),
                 lambda f: draw_comparison(f, explanations, 0, earlier={"shap"})):
        figure = new_figure(9, 4.6)
        FigureCanvasAgg(figure)
        draw(figure)
        figure.canvas.draw()
        titles = titles_of(figure, {"SHAP (Partition)", "LIME"})
        shap = next(t for name, t in titles.items() if name.startswith("SHAP"))
        lime = next(t for name, t in titles.items() if name.startswith("LIME"))
        assert "earlier settings" in shap.get_text() and shap.get_gid() == "earlier-settings:shap"
        assert to_rgb(shap.get_color()) == to_rgb(EARLIER_COLOUR)
        assert "earlier" not in lime.get_text() and lime.get_gid() is None


def canvas_titles(qtbot, window) -> dict[str, str]:
    canvas = window.results_view.current_canvas()
    qtbot.waitUntil(lambda: not canvas.render_pending, timeout=10_000)
    with canvas.figure_in_hand() as figure:
        return {ax.get_title().split("\n")[0]: ax.get_title() for ax in figure.axes if ax.get_title()}


def test_re_explaining_with_other_settings_marks_what_was_not_recomputed(window, qtbot, image_folder):
    (entry,) = window.add_paths([image_folder / "region.png"])
    window.image_list.select_key(entry.key)
    window.explain(entry)
    wait_until_done(qtbot, window, [entry])
    assert set(entry.results) == {"shap", "lime"} and not entry.earlier_settings()
    assert not any("earlier" in t for t in canvas_titles(qtbot, window).values())

    # New SHAP and LIME settings, but only SHAP recomputed.
    window.settings_panel.apply_overrides(methods="shap", shap_max_evals=160, lime_samples=200)
    job = window.explain(entry)
    assert set(entry.earlier_settings()) == {"shap", "lime"}  # until SHAP's new result arrives
    wait_until_done(qtbot, window, [entry])
    assert job.state == "done"
    assert entry.earlier_settings() == {"lime": ["samples 120 → 200"]}
    titles = canvas_titles(qtbot, window)
    assert "earlier settings" in titles["LIME"] and "earlier" not in titles["SHAP (Partition)"]
    assert "LIME (earlier settings)" in window.results_view.summary_label.text()
    assert "samples 120 → 200" in window.results_view.summary_label.toolTip()
    canvas = window.results_view.current_canvas()
    with canvas.figure_in_hand() as figure:
        lime_panel = next(ax for ax in figure.axes if ax.get_title().startswith("LIME"))
        box = lime_panel.get_position()
    x, y = (box.x0 + box.x1) / 2 * canvas.width(), (1 - box.y1) * canvas.height() - 5  # on its title
    assert canvas.earlier_method_at(x, y) == "lime"
    assert canvas.earlier_method_at(box.x0 / 2 * canvas.width(), y) is None  # over the input image
    point = QPoint(round(x), round(y))
    QApplication.sendEvent(canvas, QHelpEvent(QEvent.Type.ToolTip, point, canvas.mapToGlobal(point)))
    assert "samples 120 → 200" in QToolTip.text()
    QToolTip.hideText()

    # LIME recomputed with the new settings: nothing is marked any more.
    window.settings_panel.apply_overrides(methods="shap,lime")
    window.explain(entry)
    wait_until_done(qtbot, window, [entry])
    assert not entry.earlier_settings()
    assert not any("earlier" in t for t in canvas_titles(qtbot, window).values())
