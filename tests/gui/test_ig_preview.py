"""Integrated Gradients in the instant-preview lane: after Grad-CAM, before a long job ends,
in the same class tabs; a job with the same IG settings reuses it; cancels stay separate."""

import threading

import pytest
from gui_helpers import FAST, wait_until_done
from known_models import positive_share_in_region

import engine.explain


@pytest.fixture
def ig_calls(monkeypatch):
    """Every Integrated Gradients computation, as (seed, steps, classes), from any thread."""
    calls = []
    lock = threading.Lock()
    function, params_type = engine.explain.METHODS["ig"]

    def counted(image, classifier, targets, params, progress, cancel):
        result = function(image, classifier, targets, params, progress, cancel)
        with lock:
            calls.append((params.seed, params.steps, tuple(targets)))
        return result

    monkeypatch.setitem(engine.explain.METHODS, "ig", (counted, params_type))
    return calls


@pytest.fixture(scope="module")
def conv_preview_window(qapp, tmp_path_factory):
    """A tiny convolutional model, so the preview lane has a Grad-CAM step before IG."""
    from gui_helpers import window_for_model
    from known_models import save_conv_model

    with window_for_model(save_conv_model(tmp_path_factory.mktemp("conv_preview_model")),
                          show=False) as window:
        yield window


@pytest.fixture
def arrivals():
    """``arrivals(window)``: the list of (image key, method) of its previews, as they land."""
    connected = []

    def watch(window) -> list:
        order = []

        def landed(job, explanation):
            order.append((job.image_key, explanation.method))

        window.controller.previewReady.connect(landed)
        connected.append((window, landed))
        return order

    yield watch
    for window, landed in connected:
        window.controller.previewReady.disconnect(landed)


def test_ig_preview_follows_gradcam_and_lands_before_a_long_job(conv_preview_window, qtbot, image_folder, arrivals):
    from gui_helpers import reset, wait_until_ready

    w = conv_preview_window
    wait_until_ready(qtbot, w)
    reset(w, qtbot)
    w.settings_panel.apply_overrides(**{**FAST, "methods": "shap", "shap_max_evals": 20_000,
                                        "shap_batch_size": 10, "preview_ig": True, "ig_steps": 16,
                                        "instant_preview": True})
    order = arrivals(w)
    try:
        first, second = w.add_paths([image_folder / "coffee.jpg", image_folder / "noise.png"])
        w.image_list.select_key(first.key)
        job = w.explain(first)
        qtbot.waitUntil(lambda: "ig" in first.results and "gradcam" in second.results, timeout=60_000)
        # SHAP needs minutes at these settings; the previews land while it runs.
        assert job.state == "running" and "shap" not in first.results
        # Every Grad-CAM comes before any IG (a slow IG never holds up a newer image's
        # Grad-CAM), and only the image on screen gets IG: a folder of images does not queue
        # seconds of IG each ahead of the jobs.
        assert order == [(first.key, "gradcam"), (second.key, "gradcam"), (first.key, "ig")]
        assert "ig" not in second.results and not w.controller.preview_pending(second.key)
        w.image_list.select_key(second.key)  # on screen now: its IG follows
        qtbot.waitUntil(lambda: "ig" in second.results, timeout=60_000)
        assert order[-1] == (second.key, "ig") and job.state == "running"
        assert first.results["ig"].maps.shape == (2, 32, 32)
        assert first.results["ig"].params["steps"] == 16
        assert first.results["ig"].classes == first.results["gradcam"].classes
        canvas = w.results_view.tabs_for(first.key).widget(0)
        canvas.ensure_built()
        titles = [ax.get_title() for ax in canvas.figure.axes]
        assert "Grad-CAM" in titles and "Integrated Gradients" in titles
    finally:
        reset(w, qtbot)


def test_ig_preview_on_the_known_answer_model_and_off_switch(window, qtbot, image_folder, ig_calls, arrivals):
    # The region model has no convolutional layer: the lane skips Grad-CAM and still runs IG.
    window.settings_panel.apply_overrides(preview_ig=False, ig_steps=16)
    order = arrivals(window)
    (entry,) = window.add_paths([image_folder / "region.png"])
    qtbot.waitUntil(lambda: entry.predictions is not None and not window.controller.previews_pending,
                    timeout=30_000)
    assert window.preview(entry) is None
    assert not window.controller.previews_pending and "ig" not in entry.results and ig_calls == []

    window.settings_panel.apply_overrides(preview_ig=True)
    preview = window.preview(entry)
    assert preview.ig == {"steps": 16, "seed": 0, "baseline": "black"} and not preview.gradcam
    assert window.controller.preview_pending(entry.key, "ig")
    qtbot.waitUntil(lambda: "ig" in entry.results, timeout=30_000)
    assert [m for _, m in order] == ["ig"] and len(ig_calls) == 1
    ig = entry.results["ig"]
    assert ig.maps.shape == (2, 64, 64) and ig.params["steps"] == 16
    top = entry.predictions[0].index
    # Integrated Gradients points at the square that decides the class.
    assert positive_share_in_region(ig.maps[ig.index_of(top)]) > 0.9
    canvas = window.results_view.current_canvas()
    qtbot.waitUntil(lambda: canvas.render_count > 0, timeout=10_000)
    assert "Integrated Gradients" in [ax.get_title() for ax in canvas.figure.axes]

    # New IG settings ask for a new preview; unticking the setting stops it on its way.
    qtbot.waitUntil(lambda: not window.controller.previews_pending, timeout=5_000)
    assert "Preview ready" in window.progress_panel.title.text()
    window.settings_panel.apply_overrides(ig_steps=4096)
    slow = window.preview(entry)
    assert slow is not None and slow.ig["steps"] == 4096
    qtbot.waitUntil(lambda: "Previewing" in window.progress_panel.title.text(), timeout=10_000)
    box = window.settings_panel.widgets["preview_ig"]
    box.setChecked(False)
    try:
        assert slow.cancel.cancelled and not window.controller.previews_pending
        # However it was stopped, Esc and the progress panel know it is over.
        assert not window.chrome.cancel_action.isEnabled() and not window.progress_panel.cancel.isEnabled()
        assert "Preview stopped" in window.progress_panel.title.text()
        qtbot.wait(500)
        assert entry.results["ig"] is ig and len(ig_calls) == 1
    finally:
        box.setChecked(True)


def test_a_job_reuses_the_ig_preview_and_still_scores_it(window, qtbot, image_folder, ig_calls):
    window.settings_panel.apply_overrides(methods="shap,lime,ig", preview_ig=True, ig_steps=8,
                                          ig_baseline="noise", faithfulness=True, faithfulness_steps=3,
                                          stability_runs=1)
    try:
        (entry,) = window.add_paths([image_folder / "region.png"])
        qtbot.waitUntil(lambda: "ig" in entry.results, timeout=30_000)
        preview = entry.results["ig"]
        job = window.explain(entry)
        assert job.methods == ("shap", "lime", "ig")
        # Planned before the engine looks: SHAP, LIME, IG, each scored, LIME and IG re-run once.
        # Scoring one map, K = 2, 3 steps: the image and its blur, MoRF and LeRF (2 K (3 - 1)),
        # the per-pixel detail (2 K (8 + 1)); the random band (10 × 2 (3 - 1)) once.
        scoring = 3 * (2 + 2 * 2 * 2 + 2 * 2 * 9) + 10 * 2 * 2
        assert job.total == 120 + 120 + 16 + scoring + 120 + 16
        wait_until_done(qtbot, window, [entry])
        assert entry.status == "done" and set(entry.results) == {"shap", "lime", "ig"}
        # The same result object, not a recomputation: IG ran once with the job's seed
        # (the stability re-run uses seed + 1).
        assert entry.results["ig"] is preview
        assert [c for c in ig_calls if c[0] == 0] == [(0, 8, tuple(preview.classes))]
        assert [c[0] for c in ig_calls] == [0, 1]
        assert job.total == 120 + 120 + scoring + 120 + 16  # the reused IG left the plan
        assert set(entry.metrics) == {"shap", "lime", "ig"} and set(entry.stability) == {"lime", "ig"}

        # Other IG settings: the job computes its own.
        window.settings_panel.apply_overrides(preview_ig=False, ig_steps=6, stability_runs=0)
        job = window.explain(entry)
        wait_until_done(qtbot, window, [entry])
        assert entry.results["ig"] is not preview and entry.results["ig"].params["steps"] == 6
        assert ig_calls[-1][:2] == (0, 6)
    finally:
        window.settings_panel.apply_overrides(faithfulness=False, stability_runs=0, ig_baseline="black")


def test_cancelling_the_job_leaves_the_ig_preview_running(window, qtbot, image_folder):
    window.settings_panel.apply_overrides(methods="shap", shap_max_evals=200_000, shap_batch_size=25,
                                          preview_ig=False, ig_steps=4096)
    (entry,) = window.add_paths([image_folder / "region.png"])
    qtbot.waitUntil(lambda: entry.predictions is not None, timeout=30_000)
    job = window.explain(entry)
    qtbot.waitUntil(lambda: job.state == "running" and job.done > 0, timeout=60_000)
    # The preview runs between two SHAP batches, inside the job's progress callback; the job
    # is cancelled while the preview is half-way.
    window.settings_panel.apply_overrides(preview_ig=True)
    preview = window.preview(entry)
    assert preview is not None and preview.ig is not None
    with qtbot.waitSignal(window.controller.previewProgress, timeout=30_000):
        pass
    window.controller.cancel(job.job_id)
    # The job ends at once, even when the preview runs inside its progress callback...
    qtbot.waitUntil(lambda: job.finished, timeout=30_000)
    assert job.state == "cancelled" and entry.status == "cancelled"
    assert window.controller.preview_pending(entry.key, "ig") and not preview.cancel.cancelled
    # ...and the preview carries on to the end.
    qtbot.waitUntil(lambda: "ig" in entry.results, timeout=60_000)
    assert not preview.cancel.cancelled and entry.results["ig"].params["steps"] == 4096
    assert set(entry.results) == {"ig"}
    qtbot.waitUntil(lambda: not window.controller.previews_pending, timeout=5_000)  # once drawn


def test_predictions_are_answered_while_an_ig_preview_runs(window, qtbot, image_folder):
    window.settings_panel.apply_overrides(preview_ig=True, ig_steps=4096)
    (first,) = window.add_paths([image_folder / "region.png"])
    with qtbot.waitSignal(window.controller.previewProgress, timeout=30_000):
        pass  # the IG preview has begun
    (second,) = window.add_paths([image_folder / "noise.png"])
    qtbot.waitUntil(lambda: second.predictions is not None, timeout=30_000)
    # Answered between the preview's gradient batches, not after it.
    assert window.controller.preview_pending(first.key, "ig") and "ig" not in first.results
    window.controller.cancel_preview(first.key)
    assert "ig" not in first.results


def test_escape_stops_an_ig_preview_when_nothing_else_runs(window, qtbot, image_folder):
    window.settings_panel.apply_overrides(preview_ig=True, ig_steps=4096)
    try:
        (entry,) = window.add_paths([image_folder / "region.png"])
        assert window.controller.running_job is None and window.controller.evaluation is None
        with qtbot.waitSignal(window.controller.previewProgress, timeout=30_000):
            pass  # the IG preview has begun
        assert window.chrome.cancel_action.isEnabled() and window.chrome.cancel_action.shortcut().toString() == "Esc"
        panel = window.progress_panel
        qtbot.waitUntil(lambda: "Previewing" in panel.title.text(), timeout=5_000)
        assert panel.cancel.isEnabled() and "Integrated Gradients" in panel.bar.format()
        window.chrome.cancel_action.trigger()
        assert not window.controller.previews_pending_for("ig")
        assert not window.chrome.cancel_action.isEnabled() and not panel.cancel.isEnabled()
        assert "stopped" in window.statusBar().currentMessage() and "stopped" in panel.title.text()
        qtbot.wait(500)  # a batch in flight may end; its result must not land
        assert "ig" not in entry.results
        # Selecting the image again asks for its IG again.
        assert window.preview(entry) is not None and window.controller.previews_pending_for("ig")
        window.controller.cancel_preview(entry.key)
    finally:
        window.settings_panel.apply_overrides(ig_steps=32)
