"""An ONNX model in the window: it opens, predicts and explains with SHAP; the gradient
methods are greyed out with the reason; the layout is a dialog field remembered per model."""

import numpy as np
import onnx_models
import pytest
from gui_helpers import FAST, REGION_LABELS, assert_canvas_rendered, reset, wait_until_done, wait_until_ready
from gui_helpers import window_for_model as window_on
from known_models import positive_share_in_region
from PIL import Image
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDialogButtonBox

from engine.onnx_model import GRADIENT_NOTE


@pytest.fixture(scope="module")
def onnx_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx_window")
    onnx_models.save(onnx_models.region_net(), folder / "region.onnx")
    (folder / "labels.txt").write_text("\n".join(REGION_LABELS) + "\n")
    onnx_models.save(onnx_models.conv_net(size=3), folder / "square" / "tiny.onnx")  # [batch, 3, 3, 3]
    return folder


@pytest.fixture(scope="module")
def onnx_window(qapp, onnx_folder):
    with window_on(onnx_folder / "region.onnx") as window:
        yield window


@pytest.fixture
def win(onnx_window, qtbot, clean_settings):
    wait_until_ready(qtbot, onnx_window)
    reset(onnx_window, qtbot)
    onnx_window.settings_panel.apply_overrides(**FAST)
    yield onnx_window
    reset(onnx_window, qtbot)


def test_an_onnx_model_predicts_and_explains_with_shap(win, qtbot, image_folder):
    from engine import explain
    from engine.explain.shap_partition import ShapParams

    info = win.controller.model_info
    assert info.name == "region.onnx" and not info.supports_gradients
    assert win.chrome.backend_label.text() == "ONNX · OpenVINO"
    (entry,) = win.add_paths([image_folder / "region.png"])
    qtbot.waitUntil(lambda: entry.predictions is not None, timeout=60_000)
    assert entry.predictions[0].name == REGION_LABELS[0]
    win.settings_panel.apply_overrides(methods="shap", classes=1)
    win.explain(entry)
    wait_until_done(qtbot, win, [entry])
    assert entry.status == "done" and set(entry.results) == {"shap"}  # no Grad-CAM preview either
    shown = entry.results["shap"].maps[0]
    assert positive_share_in_region(shown) > 0.5
    # The map the window shows is the engine's, for the same image and settings.
    settings = win.settings_panel.settings()
    again = explain.run("shap", entry.results["shap"].image, win.controller._worker._classifier, [0],
                        ShapParams(**settings.shap_params()))
    np.testing.assert_allclose(shown, again.maps[0], rtol=1e-5, atol=1e-7)
    assert_canvas_rendered(qtbot, win.results_view.tabs_for(entry.key), 0)


def test_gradient_methods_are_greyed_out_with_the_reason(win):
    panel = win.settings_panel
    combo = panel.widgets["methods"]
    for row in range(combo.count()):
        methods = str(combo.itemData(row)).split(",")
        item = combo.model().item(row)
        needs = bool({"gradcam", "ig", "shap-gradient"} & set(methods))
        assert item.isEnabled() is not needs, methods
        assert (item.toolTip() == f"Needs gradients: {GRADIENT_NOTE}") is needs
    for name in ("instant_preview", "preview_ig", "ig_steps", "shap_background"):
        assert not panel.widgets[name].isEnabled(), name
    assert GRADIENT_NOTE in panel.widgets["instant_preview"].toolTip()
    # A gradient choice cannot be kept for this model: SHAP and LIME are shown instead.
    panel.set_gradients_available(True)
    panel.apply_overrides(methods="shap,lime,ig,gradcam")
    panel.set_gradients_available(False, GRADIENT_NOTE)
    assert panel.settings().methods == "shap,lime"
    panel.set_gradients_available(True)  # a model with gradients gets the choice back
    assert panel.settings().methods == "shap,lime,ig,gradcam" and panel.widgets["ig_steps"].isEnabled()
    panel.set_gradients_available(False, GRADIENT_NOTE)


def test_layout_and_preprocessing_are_chosen_in_the_dialog_and_remembered(win, qtbot, onnx_folder, tmp_path):
    tiny = onnx_folder / "square" / "tiny.onnx"
    image = tmp_path / "small.png"
    Image.fromarray(np.full((3, 3, 3), 200, np.uint8)).save(image)
    with qtbot.waitSignal(win.controller.modelFailed, timeout=60_000) as failed:
        _open(qtbot, win, tiny)
    assert "--layout NCHW or --layout NHWC" in failed.args[0].message
    assert "Still using region.onnx" in win.banner.text()

    with qtbot.waitSignal(win.controller.modelReady, timeout=60_000):
        _open(qtbot, win, tiny, layout="NCHW", preprocess="torch")
    info = win.controller.model_info
    assert (info.name, info.preprocess, info.input_size) == ("tiny.onnx", "torch", (3, 3))
    assert ("ONNX input", "image [?, 3, 3, 3] float, NCHW") in info.facts
    summary = win.models.show_summary()
    rows = {row[0]: row for row in summary.layer_rows()}
    assert rows["Total"][3] == f"{sum(a.size for a in onnx_models.conv_weights()):,}"
    assert rows["Conv"][1] == "1 node" and rows["Conv"][4] == "—"
    assert summary.findChild(type(summary.facts["model"]), "fact:Format").text().startswith("ONNX, opset 17")
    summary.close()

    with qtbot.waitSignal(win.controller.modelReady, timeout=60_000):
        _open(qtbot, win, onnx_folder / "region.onnx")
    seen = {}
    with qtbot.waitSignal(win.controller.modelReady, timeout=60_000):
        _open(qtbot, win, tiny, seen=seen)  # filled in from last time
    assert seen["filled"] == ("NCHW", "torch", True)
    assert win.controller.model_request.layout == "NCHW"


def _open(qtbot, window, path, layout=None, preprocess=None, seen=None):
    """Model ▸ Open model…, filled in and confirmed as a person would."""
    def fill():
        dialog = window.models.model_dialog
        dialog.set_model(str(path))
        if seen is not None:
            seen["filled"] = (dialog.layout_combo.currentData(), dialog.preprocess_combo.currentData(),
                              dialog.layout_combo.isEnabled())
        if layout is not None:
            dialog.layout_combo.setCurrentIndex(dialog.layout_combo.findData(layout))
        if preprocess is not None:
            dialog.preprocess_combo.setCurrentIndex(dialog.preprocess_combo.findData(preprocess))
        dialog.buttons.button(QDialogButtonBox.StandardButton.Open).click()

    QTimer.singleShot(0, fill)
    window.chrome.open_model_action.trigger()
