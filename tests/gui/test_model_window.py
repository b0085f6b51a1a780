"""Your own model in the window: open it, see its classes, its summary, trust, background-set SHAP."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from gui_helpers import (FAST, REGION_LABELS, assert_canvas_rendered, reset, wait_until_done, wait_until_ready,
                         window_for_model)
from known_models import SIZE, positive_share_in_region
from PIL import Image
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QMenu, QMessageBox

from gui.engine_requests import ModelRequest
from gui.settings_store import load_settings

SCENES = ["forest", "sea", "street"]


@pytest.fixture(scope="module")
def scene_model_file(tmp_path_factory):
    """Three classes whose scores depend only on the mean pixel value; "street" wins on any
    ordinary image under no preprocessing, "forest" once pixels are scaled to 0-1 ("unit")."""
    import keras

    folder = tmp_path_factory.mktemp("scene_model")
    inputs = keras.Input((SIZE, SIZE, 3))
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(inputs)
    dense = keras.layers.Dense(3, activation="softmax", name="scenes")
    model = keras.Model(inputs, dense(pooled), name="scenes")
    # score = w * mean pixel + b: pixel values around 100 favour "street", around 0.4 "forest".
    dense.set_weights([np.array([[0.0, 0.02, 0.05]] * 3, np.float32), np.array([1.0, 0.0, -1.0], np.float32)])
    path = folder / "scenes.keras"
    model.save(path)
    (folder / "scenes.json").write_text(json.dumps(SCENES))
    return path


@pytest.fixture(scope="module")
def lambda_model_file(tmp_path_factory):
    import keras

    path = tmp_path_factory.mktemp("lambda_model") / "lambda.keras"
    inputs = keras.Input((SIZE, SIZE, 3))
    scaled = keras.layers.Lambda(lambda t: t * 1.0)(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(scaled))
    keras.Model(inputs, outputs).save(path)
    return path


@pytest.fixture(scope="module")
def background_folder(tmp_path_factory):
    """Typical 'nothing there' images: dark and noisy, no bright square."""
    folder = tmp_path_factory.mktemp("background")
    rng = np.random.default_rng(3)
    for i in range(6):
        Image.fromarray(rng.integers(0, 60, (SIZE, SIZE, 3), dtype=np.uint8)).save(folder / f"bg{i}.png")
    return folder


@pytest.fixture(scope="module")
def model_window(qapp, region_model_file, settings_folder):
    """A window of its own: these tests switch models, which the shared window must not see."""
    with window_for_model(region_model_file) as window:
        yield window


@pytest.fixture
def win(model_window, region_model_file, qtbot, clean_settings):
    """The window with the region model loaded (re-opened if a test switched it away)."""
    w = model_window
    wait_until_ready(qtbot, w)
    if w.controller.model_info.name != region_model_file.name:
        with qtbot.waitSignal(w.controller.modelReady, timeout=120_000):
            w.models.open_model(ModelRequest(model=str(region_model_file)))
        wait_until_ready(qtbot, w)
    reset(w, qtbot)
    w.settings_panel.apply_overrides(**FAST)
    yield w
    reset(w, qtbot)
    if w.models.summary_dialog is not None:
        w.models.summary_dialog.close()


def _predicted(qtbot, window, entries):
    qtbot.waitUntil(lambda: all(e.predictions for e in entries), timeout=60_000)
    return [e.predictions[0].name for e in entries]


def _open_through_dialog(qtbot, window, path, labels=None, preprocess=None):
    """Drive Model ▸ Open model… as a person would: fill in the dialog and press Open."""
    seen = {}

    def fill():
        dialog = window.models.model_dialog
        dialog.set_model(str(path))
        seen["remembered"] = (dialog.preprocess_combo.currentData(), dialog.labels_edit.text())
        if labels is not None:
            dialog.labels_edit.setText(str(labels))
        if preprocess is not None:
            dialog.preprocess_combo.setCurrentIndex(dialog.preprocess_combo.findData(preprocess))
        seen["trust"] = dialog.trust_box.isChecked()
        dialog.buttons.button(QDialogButtonBox.StandardButton.Open).click()

    QTimer.singleShot(0, fill)
    with qtbot.waitSignal(window.controller.modelReady, timeout=120_000):
        window.chrome.open_model_action.trigger()
    return seen


def test_open_a_model_predictions_follow_and_old_explanations_are_cleared(win, qtbot, image_folder,
                                                                          scene_model_file):
    entries = win.add_paths([image_folder / "region.png", image_folder / "noise.png"])
    assert _predicted(qtbot, win, entries)[0] == REGION_LABELS[0]
    win.settings_panel.apply_overrides(methods="shap", classes=1)
    win.explain(entries[0])
    wait_until_done(qtbot, win, entries[:1])
    assert "shap" in entries[0].results

    seen = _open_through_dialog(qtbot, win, scene_model_file, labels=scene_model_file.with_name("scenes.json"))
    assert seen["trust"] is False  # never ticked for the person
    assert win.controller.model_info.class_names == tuple(SCENES)
    assert _predicted(qtbot, win, entries) == ["street", "street"]
    assert [name for name, _ in win.predictions_view.shown_predictions()][0] == "street"
    # Results of the region model are gone, never shown under the scene model's labels.
    assert not entries[0].results and entries[0].status == "ready"
    assert win.results_view.tabs_for(entries[0].key) is None
    assert "cleared" in win.banner.text()
    assert win.chrome.model_label.text() == "scenes.keras"


def test_preprocessing_is_remembered_per_model_and_the_last_model_reopens(win, qtbot, image_folder,
                                                                          scene_model_file, region_model_file):
    from gui.app import model_request
    from gui.model_memory import last_model_request

    labels = scene_model_file.with_name("scenes.json")
    (entry,) = win.add_paths([image_folder / "region.png"])
    _open_through_dialog(qtbot, win, scene_model_file, labels=labels, preprocess="unit")
    assert win.controller.model_info.preprocess == "unit"
    assert _predicted(qtbot, win, [entry]) == ["forest"]  # pixels scaled to 0-1 change the answer

    # Another model in between, then the scene model again: the dialog fills in its choices.
    _open_through_dialog(qtbot, win, region_model_file)
    seen = _open_through_dialog(qtbot, win, scene_model_file)
    assert seen["remembered"] == ("unit", str(labels))
    assert win.controller.model_info.preprocess == "unit"

    # The next launch re-opens it, unless the command line names a model.
    assert last_model_request() == ModelRequest(model=str(scene_model_file.resolve()), labels=str(labels),
                                                preprocess="unit")
    no_model = SimpleNamespace(model=None, weights=None, labels=None, preprocess=None, trust_model=False)
    assert model_request(no_model).model == str(scene_model_file.resolve())
    assert model_request(SimpleNamespace(**{**vars(no_model), "weights": "none"})).model == "resnet50"


def test_a_label_count_mismatch_is_one_clear_line_and_the_model_stays(win, qtbot, tmp_path, image_folder,
                                                                      region_model_file):
    wrong = tmp_path / "three.txt"
    wrong.write_text("a\nb\nc\n")
    with qtbot.waitSignal(win.controller.modelFailed, timeout=120_000) as failed:
        win.models.open_model(ModelRequest(model=str(region_model_file), labels=str(wrong)))
    assert failed.args[0].message == "three.txt: 3 labels, but the model has 2 classes"
    assert "three.txt: 3 labels, but the model has 2 classes" in win.banner.text()
    assert "Still using region.keras" in win.banner.text()
    assert win.controller.model_state == "ready" and win.chrome.model_label.text() == "region.keras"
    # The app keeps working with the model it had.
    (entry,) = win.add_paths([image_folder / "region.png"])
    assert _predicted(qtbot, win, [entry]) == [REGION_LABELS[0]]


def test_a_lambda_model_is_refused_then_opens_when_trusted(win, qtbot, lambda_model_file, monkeypatch):
    with qtbot.waitSignal(win.controller.modelFailed, timeout=120_000) as failed:
        win.models.open_model(ModelRequest(model=str(lambda_model_file)))
    assert failed.args[0].needs_trust
    assert "Lambda layer" in win.banner.text() and "trust" in win.banner.text()
    assert win.controller.model_info.name == "region.keras"  # still the model it had
    (button,) = [b for b in win.banner.buttons if b.text() == "Open as trusted…"]

    asked = []

    def answer(choice):
        def ask(*args, **kwargs):
            asked.append(args[1])
            return choice
        return staticmethod(ask)

    # Declined: nothing is loaded.
    monkeypatch.setattr(QMessageBox, "warning", answer(QMessageBox.StandardButton.Cancel))
    button.click()
    assert asked == ["Trust this model file?"]
    assert win.controller.model_state == "ready" and win.controller.model_info.name == "region.keras"
    assert not win.controller.model_request.trust

    # Confirmed: it loads, trusted.
    monkeypatch.setattr(QMessageBox, "warning", answer(QMessageBox.StandardButton.Open))
    with qtbot.waitSignal(win.controller.modelReady, timeout=120_000) as ready:
        button.click()
    assert ready.args[0].name == "lambda.keras" and win.controller.model_request.trust
    assert len(asked) == 2


def test_model_summary_shows_layers_shapes_and_parameters(win, qtbot, region_model_file):
    dialog = win.models.show_summary()
    assert dialog.isVisible()
    rows = dialog.layer_rows()
    names = [r[0] for r in rows]
    assert names[-1] == "Total" and "decision" in names
    decision = rows[names.index("decision")]
    assert decision[1] == "Dense" and decision[2] == "(None, 2)" and decision[3] == f"{SIZE * SIZE * 3 * 2 + 2:,}"
    assert rows[-1][3] == f"{SIZE * SIZE * 3 * 2 + 2:,}"
    assert dialog.facts["input"].text().startswith(f"{SIZE} × {SIZE} pixels, 3 channels")
    assert dialog.facts["classes"].text() == "2: bright region, dark region"
    assert dialog.facts["head"].text() == "probabilities (softmax)"  # a Dense softmax head
    assert dialog.facts["preprocess"].text().startswith("none")
    assert dialog.facts["labels"].text() == str(region_model_file.with_name("labels.txt"))


def test_background_set_shap_explains_the_region_and_loads_the_folder_once(win, qtbot, image_folder,
                                                                           background_folder, monkeypatch):
    entries = win.add_paths([image_folder / "region.png", image_folder / "flipped.png"])
    win.settings_panel.apply_overrides(methods="shap-gradient", classes=2, shap_gradient_samples=60)

    # Without a folder: a clear message, no job.
    win.settings_panel.apply_overrides(shap_background="")
    assert win.explain(entries[0]) is None
    assert "needs background images" in win.banner.text()
    assert not win.controller.busy

    # Chosen in the settings panel, and remembered.
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(background_folder)))
    win.settings_panel.widgets["shap_background"].choose()
    assert win.settings_panel.settings().shap_background == str(background_folder)
    assert load_settings().shap_background == str(background_folder)
    stages = []
    win.controller.jobProgress.connect(lambda job: stages.append(job.stage))
    for entry in entries:
        win.explain(entry)
    wait_until_done(qtbot, win, entries)
    assert [e.status for e in entries] == ["done", "done"]
    assert "loading background" in stages
    assert win.controller.worker._background.loads == 1  # the second image reused the set

    result = entries[0].results["shap-gradient"]
    assert result.params["background_count"] == 6
    assert positive_share_in_region(result.maps[result.index_of(0)]) > 0.5
    win.image_list.select_key(entries[0].key)
    tabs = win.results_view.tabs_for(entries[0].key)
    assert_canvas_rendered(qtbot, tabs, 0)
    titles = [ax.get_title() for ax in tabs.widget(0).figure.axes]
    assert "SHAP (background set)" in titles
    timings = win.results_view.summary_label.toolTip()  # the full timing line under the tabs
    assert f"SHAP (background set) with {result.params['explainer']}" in timings


def test_loading_the_background_shows_progress_and_can_be_cancelled(win, qtbot, image_folder, tmp_path,
                                                                    monkeypatch):
    import time

    import engine.images

    folder = tmp_path / "many"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for i in range(30):
        Image.fromarray(rng.integers(0, 60, (SIZE, SIZE, 3), dtype=np.uint8)).save(folder / f"bg{i:02}.png")
    real_load = engine.images.load_image

    def slow_disk(path, *args, **kwargs):  # a network share: every file takes a while
        time.sleep(0.05)
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(engine.images, "load_image", slow_disk)
    (entry,) = win.add_paths([image_folder / "region.png"])
    win.settings_panel.apply_overrides(methods="shap-gradient", classes=1, shap_background=str(folder),
                                       shap_max_background=30)
    loads_before = win.controller.worker._background.loads

    def cancel_while_loading(job):
        if job.stage == "loading background":
            win.controller.cancel(job.job_id)

    win.controller.jobProgress.connect(cancel_while_loading)
    try:
        job = win.explain(entry)
        wait_until_done(qtbot, win, [entry])
    finally:
        win.controller.jobProgress.disconnect(cancel_while_loading)
    assert job.state == "cancelled" and entry.status == "cancelled"
    assert 0 < job.done < 30  # stopped part way through the folder
    assert not entry.results
    assert win.controller.worker._background.loads == loads_before  # nothing half-loaded is kept


def test_fast_cpu_mode_reloads_in_bfloat16_labelled_and_remembered(win, qtbot, image_folder):
    from engine.openvino_forward import cpu_has_bfloat16
    from gui.model_memory import remembered_precision

    [entry] = win.add_paths([image_folder / "region.png"])
    _predicted(qtbot, win, [entry])
    has_bf16 = cpu_has_bfloat16()
    signal = win.controller.modelReady if has_bf16 else win.controller.modelFailed
    with qtbot.waitSignal(signal, timeout=120_000):
        win.chrome.fast_cpu_action.trigger()
    if not has_bf16:  # said in one line, the float32 model stays, the mode is left off
        assert "Fast CPU mode is not available" in win.banner.text()
        assert not win.chrome.fast_cpu_action.isChecked() and remembered_precision() == "float32"
        return
    try:
        assert win.controller.model_info.precision == "bfloat16"
        assert "bfloat16" in win.chrome.model_label.text() and "OpenVINO bfloat16" in win.chrome.backend_label.text()
        assert win.chrome.fast_cpu_action.isChecked() and remembered_precision() == "bfloat16"
        assert _predicted(qtbot, win, [entry]) == [REGION_LABELS[0]]  # re-predicted, same answer
    finally:
        with qtbot.waitSignal(win.controller.modelReady, timeout=120_000):
            win.chrome.fast_cpu_action.trigger()
    assert win.controller.model_info.precision == "float32" and remembered_precision() == "float32"
    assert "bfloat16" not in win.chrome.model_label.text()


def test_a_custom_layer_model_opens_with_its_python_file_from_the_dialog(win, qtbot, tmp_path):
    from known_models import save_custom_layer_model

    model_path, layers_path = save_custom_layer_model(tmp_path)
    with qtbot.waitSignal(win.controller.modelFailed, timeout=120_000):
        win.models.open_model(ModelRequest(model=str(model_path), trust=True))
    assert "custom object 'Scale'" in win.banner.text() and "--custom-objects" in win.banner.text()

    def fill():
        dialog = win.models.model_dialog
        dialog.set_model(str(model_path))
        assert not dialog.trust_box.isChecked()
        dialog.custom_edit.setText(str(layers_path))
        assert dialog.trust_box.isChecked()  # running the file is trusting it, shown before Open
        dialog.buttons.button(QDialogButtonBox.StandardButton.Open).click()

    QTimer.singleShot(0, fill)
    with qtbot.waitSignal(win.controller.modelReady, timeout=120_000):
        win.chrome.open_model_action.trigger()
    assert win.chrome.model_label.text() == "custom.keras"
    assert win.controller.model_info.class_names == ("class 0", "class 1")


def test_recent_models_remember_reload_grey_out_missing_and_clear(win, qtbot, tmp_path, scene_model_file,
                                                                  region_model_file):
    from gui.recent_models import MAX_RECENT, add_recent, recent_models

    labels = scene_model_file.with_name("scenes.json")
    _open_through_dialog(qtbot, win, scene_model_file, labels=labels, preprocess="unit")
    menu = win.models.recent_menu
    assert menu in [a.menu() for a in win.findChild(QMenu, "modelMenu").actions()]
    menu.refresh()  # what opening the menu does
    entries = menu.model_actions()
    assert [a.data() for a in entries][0] == str(scene_model_file.resolve())
    assert entries[0].isEnabled() and "scenes.keras" in entries[0].text()

    # Remembered across launches: a fresh menu reads the settings alone.
    from gui.recent_models import RecentModelsMenu

    again = RecentModelsMenu(lambda entry: None)
    assert [a.data() for a in again.model_actions()] == [a.data() for a in entries]

    # Choosing one loads it as Open model… would, with what it was opened with.
    _open_through_dialog(qtbot, win, region_model_file)
    menu.refresh()
    scene = next(a for a in menu.model_actions() if a.data() == str(scene_model_file.resolve()))
    with qtbot.waitSignal(win.controller.modelReady, timeout=120_000) as ready:
        scene.trigger()
    assert ready.args[0].class_names == tuple(SCENES) and ready.args[0].preprocess == "unit"
    assert win.controller.model_request.labels == str(labels) and not win.controller.model_request.trust

    # A file that has gone: greyed, with a note; the list keeps at most MAX_RECENT.
    gone = tmp_path / "gone.keras"
    gone.write_bytes(b"")
    add_recent(ModelRequest(model=str(gone)))
    gone.unlink()
    for n in range(MAX_RECENT):
        add_recent(ModelRequest(model=str(tmp_path / f"other{n}.keras")))
    assert len(recent_models()) == MAX_RECENT
    add_recent(ModelRequest(model=str(gone)))
    menu.refresh()
    missing = next(a for a in menu.model_actions() if a.data() == str(gone.resolve()))
    assert not missing.isEnabled() and "not found" in missing.text() and "Not found" in missing.toolTip()

    # Clear recent empties it, for the next launch too.
    menu.clear_action.trigger()
    assert recent_models() == [] and menu.model_actions() == [] and not menu.clear_action.isEnabled()
