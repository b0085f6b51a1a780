"""Settings are remembered between runs (QSettings, redirected to a temp folder here)."""

from gui.settings_panel import SettingsPanel
from gui.settings_store import default_settings, load_settings


def test_changed_settings_are_restored_in_a_new_panel(qtbot, clean_settings):
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    defaults = default_settings()
    assert panel.settings() == defaults
    assert (defaults.shap_max_evals, defaults.shap_batch_size, defaults.lime_samples,
            defaults.lime_features, defaults.classes, defaults.shap_masker) == \
        (500, 50, 1000, 1000, 3, "inpaint_telea")

    panel.widgets["shap_max_evals"].setValue(1234)
    segmentation = panel.widgets["lime_segmentation"]
    segmentation.setCurrentIndex(segmentation.findData("felzenszwalb"))
    hide = panel.widgets["lime_hide_colour"]
    hide.setCurrentIndex(hide.findData("mean"))
    panel.widgets["lime_boundaries"].setChecked(False)
    masker = panel.widgets["shap_masker"]
    masker.setCurrentIndex(masker.findData("blur"))
    panel.widgets["shap_blur"].setValue(32)

    # The settings live in the temp folder the tests set up, not in the person's own.
    files = list(clean_settings.rglob("*.ini"))
    assert files and any("1234" in f.read_text() for f in files)

    again = SettingsPanel()
    qtbot.addWidget(again)
    restored = again.settings()
    assert restored.shap_max_evals == 1234
    assert restored.lime_segmentation == "felzenszwalb"
    assert restored.lime_hide_colour == "mean" and restored.lime_params()["hide_color"] is None
    assert restored.lime_boundaries is False
    assert restored.shap_params()["masker"] == "blur(32,32)"
    assert again.widgets["shap_blur"].isEnabled()


def test_command_line_overrides_are_not_saved(qtbot, clean_settings):
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    panel.widgets["lime_samples"].setValue(2000)
    panel.apply_overrides(lime_samples=30, shap_max_evals=40, methods="shap")
    assert panel.settings().lime_samples == 30 and panel.settings().methods == "shap"
    assert load_settings().lime_samples == 2000
    assert load_settings().shap_max_evals == 500 and load_settings().methods == "shap,lime"


def test_restore_defaults(qtbot, clean_settings):
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    panel.widgets["classes"].setValue(7)
    panel.restore_defaults()
    assert panel.settings() == default_settings()
    assert load_settings().classes == 3


def test_window_settings_survive_a_new_window(qtbot, clean_settings):
    from gui.main_window import MainWindow

    first = MainWindow(restore_layout=False)
    qtbot.addWidget(first)
    first.settings_panel.widgets["seed"].setValue(42)
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.settings_panel.settings().seed == 42
    assert second.plan_label.text() == "SHAP and LIME · top 3 classes"


def test_preview_ig_and_faithfulness_settings_are_remembered(qtbot, clean_settings):
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    defaults = panel.settings()
    # Preview on, faithfulness off (each map costs about 56 evaluations per class, the band 380), 20 steps.
    assert (defaults.instant_preview, defaults.preview_ig, defaults.faithfulness,
            defaults.faithfulness_steps, defaults.ig_steps) == (True, True, False, 20, 32)
    assert panel.widgets["instant_preview"].text() == "Instant preview (Grad-CAM)"
    assert panel.widgets["preview_ig"].text() == "… with Integrated Gradients"
    assert "per class" in panel.widgets["preview_ig"].toolTip()
    assert panel.widgets["faithfulness"].text() == "Score faithfulness (SRG vs. random cells)"
    assert not panel.widgets["faithfulness_steps"].isEnabled()
    # The IG preview uses the IG settings, even when the methods have no IG.
    assert panel.widgets["ig_steps"].isEnabled() and panel.widgets["preview_ig"].isEnabled()
    panel.widgets["preview_ig"].setChecked(False)
    assert not panel.widgets["ig_steps"].isEnabled()

    panel.widgets["instant_preview"].setChecked(False)
    assert not panel.widgets["preview_ig"].isEnabled() and not panel.widgets["ig_steps"].isEnabled()
    panel.widgets["faithfulness"].setChecked(True)
    panel.widgets["faithfulness_steps"].setValue(8)
    methods = panel.widgets["methods"]
    methods.setCurrentIndex(methods.findData("shap,lime,ig"))
    panel.widgets["ig_steps"].setValue(64)

    again = SettingsPanel()
    qtbot.addWidget(again)
    restored = again.settings()
    assert (restored.instant_preview, restored.preview_ig, restored.faithfulness, restored.faithfulness_steps,
            restored.ig_steps, restored.methods) == (False, False, True, 8, 64, "shap,lime,ig")
    assert restored.method_list == ["shap", "lime", "ig"]
    assert restored.faithfulness_plan() == 8 and restored.ig_params()["steps"] == 64
    assert again.widgets["faithfulness_steps"].isEnabled() and again.widgets["ig_steps"].isEnabled()
    again.restore_defaults()
    assert load_settings().instant_preview is True and load_settings().faithfulness is False
    assert load_settings().preview_ig is True
