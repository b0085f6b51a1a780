"""Which explanation to trust, in the window: the Compare view, stability re-runs, the IG
baseline setting, ``gui --faithfulness`` and faithfulness scores for the Grad-CAM preview."""

import re
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import FAST, read_json, wait_until_done
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from engine.render import BEST_MARK, best_method, class_scores
from gui.settings_store import COMPARE_METHODS, load_settings

CONV_LABELS = ["left", "right"]


def _compare_panels(canvas) -> list[str]:
    canvas.ensure_built()
    return [ax.get_gid() for ax in canvas.figure.axes if (ax.get_gid() or "").startswith("compare:")]


def _score_texts(canvas) -> list[str]:
    canvas.ensure_built()
    return [t.get_text() for ax in canvas.figure.axes for t in ax.texts if t.get_gid() == "faithfulness"]


@pytest.fixture(scope="module")
def conv_window(qapp, tmp_path_factory):
    """A tiny convolutional model (Grad-CAM needs a convolutional layer), in its own window."""
    from gui_helpers import window_for_model
    from known_models import save_conv_model

    with window_for_model(save_conv_model(tmp_path_factory.mktemp("conv_model"), CONV_LABELS),
                          show=False) as window:
        yield window


@pytest.fixture
def conv(conv_window, qtbot):
    from gui_helpers import reset, wait_until_ready

    w = conv_window
    wait_until_ready(qtbot, w)
    reset(w, qtbot)
    w.settings_panel.apply_overrides(**FAST, ig_steps=4, faithfulness=True, faithfulness_steps=3,
                                     instant_preview=True)
    yield w
    w.results_view.set_mode("side")
    reset(w, qtbot)


def test_all_methods_open_the_comparison_with_every_method(conv, qtbot, image_folder, tmp_path, monkeypatch):
    conv.settings_panel.apply_overrides(methods=COMPARE_METHODS)
    (entry,) = conv.add_paths([image_folder / "coffee.jpg"])
    job = conv.explain(entry)
    assert job.methods == ("shap", "lime", "ig", "gradcam")
    assert conv.results_view.mode == "compare" and conv.comparison.action.isChecked()
    wait_until_done(qtbot, conv, [entry])
    assert entry.status == "done" and set(entry.results) == {"shap", "lime", "ig", "gradcam"}
    assert set(entry.metrics) == {"shap", "lime", "ig", "gradcam"}

    tabs = conv.results_view.current_tabs()
    assert tabs.count() == 2
    for index in range(tabs.count()):
        tabs.setCurrentIndex(index)
        canvas = tabs.widget(index)
        assert canvas.mode == "compare"
        assert _compare_panels(canvas) == ["compare:shap", "compare:lime", "compare:ig", "compare:gradcam"]
        titles = [ax.get_title() for ax in canvas.figure.axes if (ax.get_gid() or "").startswith("compare:")]
        scores = class_scores(entry.metrics, canvas.class_index)
        best = best_method(scores)
        # Marked only above the random band (this small seeded model may give none).
        assert sum(BEST_MARK in t for t in titles) == (best is not None)
        if best is not None:
            assert scores[best]["better"] and BEST_MARK in titles[["shap", "lime", "ig", "gradcam"].index(best)]
        tables = {t.get_gid() for ax in canvas.figure.axes for t in ax.tables}
        assert tables == {"agreement", "faithfulness"}

    # Exported as drawn: the comparison, with a name that says so.
    target = tmp_path / "compare.png"
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda parent, title, suggested, *a: asked.append(suggested) or (str(target), "")))
    assert conv.export_figure() == target
    assert re.fullmatch(r"coffee\.compare\.[01]-(left|right)\.png", Path(asked[0]).name)
    assert target.read_bytes().startswith(b"\x89PNG")

    # The corner switch goes back to side by side, for every tab, and the menu follows.
    canvas = tabs.currentWidget()
    tabs.cornerWidget(Qt.Corner.TopLeftCorner).buttons["side"].click()
    assert conv.results_view.mode == "side" and not conv.comparison.action.isChecked()
    assert all(tabs.widget(i).mode == "side" for i in range(tabs.count()))
    assert _compare_panels(canvas) == []
    assert "SHAP (Partition)" in [ax.get_title() for ax in canvas.figure.axes]
    conv.comparison.action.trigger()
    assert conv.results_view.mode == "compare" and canvas.mode == "compare"


def test_preview_gets_faithfulness_scores(conv, qtbot, image_folder):
    conv.settings_panel.apply_overrides(methods="lime")
    (entry,) = conv.add_paths([image_folder / "coffee.jpg"])
    # The preview appears on its own, unscored (scoring never holds it back)...
    qtbot.waitUntil(lambda: "gradcam" in entry.results, timeout=60_000)
    assert entry.metrics == {}
    # ...and the job scores it beside its own methods, counted in its plan.
    job = conv.explain(entry)
    assert job.scored_previews == ("gradcam",)
    # K = 2 classes, 3 steps: the image and its blur (2), MoRF and LeRF (2 K (3 - 1)), the
    # per-pixel detail (2 K (8 + 1)); the random band (10 orders × 2 × (3 - 1)) once.
    per_map = 2 + 2 * 2 * 2 + 2 * 2 * 9
    assert job.total == 120 + 2 * per_map + 10 * 2 * 2
    wait_until_done(qtbot, conv, [entry])
    assert entry.status == "done" and set(entry.metrics) == {"gradcam", "lime"}
    assert entry.metrics["gradcam"]["classes"] == list(entry.results["gradcam"].classes)
    canvas = conv.results_view.current_canvas()
    texts = _score_texts(canvas)
    scores = class_scores(entry.metrics, canvas.class_index)
    assert len(texts) == 2 and sum(BEST_MARK in t for t in texts) == (best_method(scores) is not None)
    assert set(scores) == {"gradcam", "lime"}


def test_no_preview_scoring_without_faithfulness(conv, qtbot, image_folder):
    conv.settings_panel.apply_overrides(methods="lime", faithfulness=False)
    (entry,) = conv.add_paths([image_folder / "coffee.jpg"])
    qtbot.waitUntil(lambda: "gradcam" in entry.results, timeout=60_000)
    job = conv.explain(entry)
    assert job.scored_previews == () and job.total == 120
    wait_until_done(qtbot, conv, [entry])
    assert entry.metrics == {}


def test_stability_reruns_give_a_spread_map_and_score(window, qtbot, image_folder, tmp_path):
    window.settings_panel.apply_overrides(methods="shap,lime", stability_runs=2, lime_samples=60)
    try:
        (entry,) = window.add_paths([image_folder / "region.png"])
        job = window.explain(entry)
        # SHAP (Partition) has no randomness: only LIME is re-run, and the plan counts it.
        assert job.stability_methods() == ["lime"]
        assert job.total == 120 + 60 + 2 * 60
        wait_until_done(qtbot, window, [entry])
        assert entry.status == "done" and set(entry.stability) == {"lime"}
        result = entry.stability["lime"]
        assert result["runs"] == 3 and result["seeds"] == [0, 1, 2]
        assert result["spread"].shape == (2, 64, 64) and float(result["spread"].max()) > 0
        assert all(0.0 <= s <= 1.0 for s in result["score"])

        canvas = window.results_view.current_canvas()
        canvas.ensure_built()
        titles = [ax.get_title() for ax in canvas.figure.axes]
        k = result["classes"].index(canvas.class_index)
        assert f"LIME\nstability {result['score'][k]:.2f}" in titles
        assert [ax.get_gid() for ax in canvas.figure.axes].count("spread") == 1

        written = window.export_maps(tmp_path)
        assert written
        summary = read_json(tmp_path / "region.lime.json")
        assert summary["stability"]["score"] == result["score"] and summary["stability"]["runs"] == 3
        assert "stability" not in read_json(tmp_path / "region.shap.json")
        with np.load(tmp_path / "region.lime.npz") as arrays:
            np.testing.assert_array_equal(arrays["stability_spread"], result["spread"])
    finally:
        window.settings_panel.apply_overrides(stability_runs=0)


def test_stability_reruns_are_cancellable(window, qtbot, image_folder):
    window.settings_panel.apply_overrides(methods="lime", stability_runs=10, lime_samples=400)
    try:
        (entry,) = window.add_paths([image_folder / "region.png"])
        job = window.explain(entry)
        qtbot.waitUntil(lambda: job.stage.startswith("Stability"), timeout=60_000)
        window.cancel_current()
        wait_until_done(qtbot, window, [entry])
        assert entry.status == "cancelled" and job.state == "cancelled"
        assert job.done < job.total
        assert "lime" in entry.results and entry.stability == {}
    finally:
        window.settings_panel.apply_overrides(stability_runs=0)


def test_only_methods_with_randomness_are_rerun(window):
    window.settings_panel.apply_overrides(methods="shap,lime,ig", stability_runs=3, ig_baseline="black")
    try:
        settings = window.settings_panel.settings()
        job = window.controller.submit(0, np.zeros((8, 8, 3), np.uint8), settings.method_list,
                                       settings.shap_params(), settings.lime_params(), 2,
                                       ig=settings.ig_params(), stability_runs=3)
        window.controller.cancel(job.job_id)
        assert job.stability_methods() == ["lime"]
        window.settings_panel.apply_overrides(ig_baseline="noise")
        assert window.settings_panel.settings().ig_params()["baseline"] == "noise"
        job.ig = window.settings_panel.settings().ig_params()
        assert job.stability_methods() == ["lime", "ig"]
        note = window.settings_panel.findChild(type(window.plan_label), "stabilityNote")
        assert "SHAP (Partition)" in note.text() and "no randomness" in note.text()
    finally:
        window.settings_panel.apply_overrides(stability_runs=0, ig_baseline="black")


def test_ig_baseline_reaches_the_engine_and_is_remembered(window, qtbot, image_folder, clean_settings):
    combo = window.settings_panel.widgets["ig_baseline"]
    window.settings_panel.apply_overrides(methods="ig", ig_steps=4)
    try:
        combo.setCurrentIndex(combo.findData("white"))  # as a person picks it: saved
        assert load_settings().ig_baseline == "white"
        (entry,) = window.add_paths([image_folder / "region.png"])
        job = window.explain(entry)
        assert job.ig["baseline"] == "white"
        wait_until_done(qtbot, window, [entry])
        assert entry.results["ig"].params["baseline"] == "white"
        assert float(entry.results["ig"].extras["baseline"].min()) == 255.0
    finally:
        window.settings_panel.apply_overrides(ig_baseline="black", methods="shap,lime")


@pytest.mark.parametrize("flag", [True, False])
def test_gui_faithfulness_option_turns_scoring_on_for_this_run(qapp, clean_settings, flag):
    from engine.cli import build_parser
    from gui.app import build_window

    argv = ["gui", "--weights", "none"] + (["--faithfulness"] if flag else [])
    window = build_window(build_parser().parse_args(argv))
    try:
        assert window.settings_panel.settings().faithfulness is flag
        assert ("faithfulness" in window.plan_label.text()) is flag
        assert window.settings_panel.settings().faithfulness_plan() == (20 if flag else 0)
        assert load_settings().faithfulness is False  # a command-line value is never saved
    finally:
        window.close()


def test_gui_stability_and_ig_baseline_options_are_for_this_run_only(qapp, clean_settings):
    from engine.cli import build_parser
    from gui.app import build_window

    args = build_parser().parse_args(["gui", "--weights", "none", "--explain", "shap,lime,ig",
                                      "--stability", "3", "--ig-baseline", "noise"])
    window = build_window(args)
    try:
        settings = window.settings_panel.settings()
        assert settings.stability_runs == 3 and settings.ig_params()["baseline"] == "noise"
        assert window.settings_panel.widgets["ig_baseline"].currentData() == "noise"  # shown too
        assert "stability ×3" in window.plan_label.text()
        saved = load_settings()  # a command-line value is never saved
        assert saved.stability_runs == 0 and saved.ig_baseline == "black"
    finally:
        window.close()
    # Without the options the remembered values stand.
    window = build_window(build_parser().parse_args(["gui", "--weights", "none"]))
    try:
        assert window.settings_panel.settings().stability_runs == 0
        assert window.settings_panel.settings().ig_baseline == "black"
    finally:
        window.close()


@pytest.mark.parametrize("argv, message", [(["--stability", "-1"], "must be 0 or more"),
                                           (["--stability", "many"], "not a whole number"),
                                           (["--ig-baseline", "grey"], "invalid choice")])
def test_gui_options_refuse_bad_values_in_one_line(capsys, argv, message):
    from engine.cli import build_parser

    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["gui", *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_gui_stability_above_the_panel_range_is_a_clear_error(qapp, clean_settings):
    from engine.cli import build_parser
    from gui.app import build_window

    with pytest.raises(ValueError, match=r"--stability 21: choose 0 \(off\) to 20"):
        build_window(build_parser().parse_args(["gui", "--weights", "none", "--stability", "21"]))
