"""Wiring with the real network: untrained ResNet-50 (``--weights none``), tiny settings.

The answers mean nothing (no ImageNet weights on this machine); what is checked is that a
224×224 Keras model flows through predictions, both explainers, tabs and canvases.
"""

import pytest
from gui_helpers import assert_canvas_rendered, longest_gap, reset, wait_until_ready

from gui.engine_requests import ModelRequest
from gui.main_window import MainWindow

pytestmark = pytest.mark.slow  # loads ResNet-50; still part of the normal suite


@pytest.fixture(scope="module")
def resnet_window(qapp):
    window = MainWindow(ModelRequest(weights="none"), restore_layout=False)
    window.show()
    window.start()
    yield window
    window.close()


@pytest.fixture
def resnet(resnet_window, qtbot):
    wait_until_ready(qtbot, resnet_window, timeout=180_000)
    reset(resnet_window, qtbot)
    resnet_window.settings_panel.apply_overrides(methods="shap,lime", classes=2, shap_max_evals=40,
                                                 shap_batch_size=20, lime_samples=30,
                                                 lime_segmentation="quickshift", preview_ig=False)
    return resnet_window


def test_status_bar_names_model_backend_and_untrained(resnet):
    assert resnet.chrome.model_label.text() == "ResNet-50 (untrained — for testing)"
    assert "tensorflow" in resnet.chrome.backend_label.text() and "CPU" in resnet.chrome.backend_label.text()
    assert not resnet.chrome.untrained_label.isHidden()
    assert "#c62828" in resnet.chrome.untrained_label.styleSheet()


def test_untrained_resnet_explains_with_both_methods(resnet, qtbot, image_folder):
    chelsea = resnet.intake.open_sample("chelsea")
    (coffee,) = resnet.add_paths([image_folder / "coffee.jpg"])
    resnet.image_list.select_key(chelsea.key)
    qtbot.waitUntil(lambda: chelsea.predictions is not None, timeout=30_000)
    assert len(resnet.predictions_view.shown_predictions()) == 5
    top2 = [p.name for p in chelsea.predictions[:2]]

    def start():
        resnet.explain(chelsea)
        resnet.explain(coffee, methods=["shap"])  # waits in the queue behind chelsea
        assert coffee.status == "queued"

    gap, ticks = longest_gap(resnet, qtbot, start, [chelsea, coffee], timeout=240_000)
    # The instant Grad-CAM preview sits beside the full results.
    assert chelsea.status == "done" and set(chelsea.results) == {"shap", "lime", "gradcam"}
    assert coffee.status == "done" and set(coffee.results) == {"shap", "gradcam"}
    assert gap < 0.2, f"the GUI thread was blocked for {gap * 1000:.0f} ms"

    tabs = resnet.results_view.tabs_for(chelsea.key)
    assert [tabs.tabText(i) for i in range(tabs.count())] == [n[:28] for n in top2]
    for index in range(tabs.count()):
        assert_canvas_rendered(qtbot, tabs, index)
    canvas = tabs.widget(0)
    assert "untrained" in canvas.figure.get_suptitle()
    assert chelsea.results["shap"].maps.shape[1:] == (224, 224)
    assert resnet.results_view.tabs_for(coffee.key).count() == 2


def test_gradcam_preview_comes_before_shap_and_outlives_its_cancel(resnet, qtbot, image_folder):
    resnet.settings_panel.apply_overrides(methods="shap", instant_preview=True, shap_max_evals=20_000,
                                          shap_batch_size=10)
    (entry,) = resnet.add_paths([image_folder / "coffee.jpg"])
    job = resnet.explain(entry)
    # SHAP needs minutes at these settings; the preview jumps the queue and lands in seconds.
    qtbot.waitUntil(lambda: "gradcam" in entry.results, timeout=60_000)
    assert job.state == "running" and "shap" not in entry.results
    tabs = resnet.results_view.tabs_for(entry.key)
    assert resnet.results_view.current_tabs() is tabs and tabs.count() == 2
    canvas = tabs.currentWidget()
    qtbot.waitUntil(lambda: canvas.render_count > 0, timeout=10_000)
    assert [ax.get_title() for ax in canvas.figure.axes][:2] == ["input 224×224", "Grad-CAM"]
    assert entry.results["gradcam"].maps.shape == (2, 224, 224)

    # Cancelling a preview does not touch the job...
    resnet.controller.submit_preview(entry.key, entry.image, 2)
    resnet.controller.cancel_preview(entry.key)
    assert job.state == "running" and not job.cancel.cancelled
    # ...and cancelling the job leaves the preview on screen.
    resnet.controller.cancel(job.job_id)
    qtbot.waitUntil(lambda: job.finished, timeout=60_000)
    assert job.state == "cancelled" and entry.status == "cancelled"
    assert set(entry.results) == {"gradcam"}
    assert resnet.results_view.current_tabs() is tabs and tabs.count() == 2
    assert not resnet.controller.previews_pending


def test_no_preview_when_it_is_off(resnet, qtbot, image_folder):
    resnet.settings_panel.apply_overrides(methods="shap", instant_preview=False)
    try:
        (entry,) = resnet.add_paths([image_folder / "coffee.jpg"])
        qtbot.waitUntil(lambda: entry.predictions is not None, timeout=30_000)
        assert not resnet.controller.previews_pending and "gradcam" not in entry.results
    finally:
        resnet.settings_panel.apply_overrides(instant_preview=True)


def test_integrated_gradients_on_resnet(resnet, qtbot, image_folder):
    resnet.settings_panel.apply_overrides(methods="ig", ig_steps=4, classes=1)
    try:
        (entry,) = resnet.add_paths([image_folder / "coffee.jpg"])
        job = resnet.explain(entry)
        qtbot.waitUntil(lambda: job.finished, timeout=120_000)
        assert job.state == "done" and entry.results["ig"].maps.shape == (1, 224, 224)
        canvas = resnet.results_view.current_canvas()
        qtbot.waitUntil(lambda: canvas.render_count > 0, timeout=10_000)
        assert "Integrated Gradients" in [ax.get_title() for ax in canvas.figure.axes]
    finally:
        resnet.settings_panel.apply_overrides(classes=2)
