"""The settings side panel: which methods run and with which knobs, plus the LIME view.

Every change is saved at once (QSettings), except values set from the command line, which
apply to this run only. LIME view changes only redraw: they never start a job.
"""

from __future__ import annotations

from dataclasses import fields

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from engine.stability import WHAT_VARIES
from gui.model_background_field import BACKGROUND_TIP, BackgroundFolderField
from gui.settings_store import (
    HIDE_COLOURS,
    IG_BASELINES,
    LIME_VIEWS,
    MASKERS,
    MAX_STABILITY_RUNS,
    METHOD_CHOICES,
    SEGMENTATIONS,
    ExplainSettings,
    default_settings,
    load_settings,
    save_setting,
)
from gui.wheel_guard import WheelGuard

LIME_VIEW_FIELDS = ("lime_view", "lime_view_features", "lime_boundaries")
GRADIENT_METHODS = ("gradcam", "ig", "shap-gradient")  # need the model's gradients
NO_GRADIENT_CHOICE = "shap,lime"  # shown instead of a gradient choice while a model has none
GRADIENT_FIELDS = ("instant_preview", "preview_ig", "ig_steps", "ig_baseline", "shap_background",
                   "shap_max_background", "shap_gradient_samples")
LABEL_WIDTH = 112  # one label column width for every group, so the fields line up
# Measured with bench/ig_preview.py (untrained ResNet-50, model warm, 2-core CPU).
PREVIEW_IG_COST = ("For the image on screen. Adds about 3.5 s per class at 32 steps (2 s at 16) "
                   "on a 2-core CPU with ResNet-50.")
PREVIEW_IG_TIP = ("After the Grad-CAM preview, compute Integrated Gradients for the same classes "
                  "with the steps and baseline below: steps × classes gradient passes. "
                  f"{PREVIEW_IG_COST} Grad-CAM still comes first, and a job with the same IG "
                  "settings reuses the result instead of computing it again.")


class SettingsPanel(QScrollArea):
    settingsChanged = Signal(str)  # the name of the field that changed
    limeViewChanged = Signal(object)  # engine.render.LimeView

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsPanel")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._quiet = False  # True while values are set by code (load, overrides)
        self._no_gradients = ""  # the reason, while the model in use has no gradients (ONNX)
        self._methods_with_gradients = None  # the choice it replaced, restored for the next model
        self.widgets: dict[str, QWidget] = {}
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)

        general = self._group(layout, "Explain")
        self._combo(general, "methods", "Methods", METHOD_CHOICES)
        self._spin(general, "classes", "Top classes", 1, 50,
                   tip="How many of the model's top classes get a tab")
        self._spin(general, "seed", "Seed", 0, 2**31 - 1, tip="Random seed (LIME sampling)")
        preview = QCheckBox("Instant preview (Grad-CAM)")
        preview.setToolTip("Show a Grad-CAM map of the top classes as soon as an image's "
                           "predictions are in, before SHAP and LIME finish")
        self._register(general, "instant_preview", "", preview, preview.toggled)
        preview_ig = QCheckBox("… with Integrated Gradients")
        preview_ig.setStyleSheet("QCheckBox { margin-left: 18px; }")  # belongs to the preview
        preview_ig.setToolTip(PREVIEW_IG_TIP)
        self._register(general, "preview_ig", "", preview_ig, preview_ig.toggled)
        cost = QLabel(PREVIEW_IG_COST)
        cost.setObjectName("previewIgNote")
        cost.setWordWrap(True)
        cost.setStyleSheet("color: #666; font-size: 11px; margin-left: 18px;")
        cost.setToolTip(PREVIEW_IG_TIP)
        general.addRow(cost)

        ig = self._group(layout, "Integrated Gradients")
        self._spin(ig, "ig_steps", "Steps", 2, 4096,
                   tip="Points along the path from the baseline image (more: closer to exact, slower)")
        self._combo(ig, "ig_baseline", "Baseline", IG_BASELINES,
                    tip="The image the path starts from: attributions explain the difference "
                        "between it and the photo (noise uses the seed)")

        faith = self._group(layout, "Faithfulness")
        score = QCheckBox("Score faithfulness (SRG vs. random cells)")
        score.setToolTip("After each method, blur 16-pixel cells most / least relevant first and "
                         "follow the class probability; ten random cell orders (once per image) "
                         "give the band a map must beat")
        self._register(faith, "faithfulness", "", score, score.toggled)
        self._spin(faith, "faithfulness_steps", "Steps", 2, 1000,
                   tip="Points on each MoRF / LeRF curve")

        steady = self._group(layout, "Stability")
        self._spin(steady, "stability_runs", "Re-runs", 0, MAX_STABILITY_RUNS,
                   tip="Run randomised methods again with seeds seed+1 … seed+N: a spread map "
                       "shows which regions are noise. " + WHAT_VARIES)
        self.widgets["stability_runs"].setSpecialValueText("off")
        varies = QLabel("Re-runs LIME (and IG with a noise baseline). SHAP (Partition) and "
                        "Grad-CAM have no randomness: the same map every run.")
        varies.setObjectName("stabilityNote")
        varies.setWordWrap(True)
        varies.setStyleSheet("color: #666; font-size: 11px;")
        varies.setToolTip(WHAT_VARIES)
        steady.addRow(varies)

        shap = self._group(layout, "SHAP (Partition)")
        self._combo(shap, "shap_masker", "Masker", {m: m if m != "blur" else "blur(k,k)" for m in MASKERS})
        self._spin(shap, "shap_blur", "Blur kernel k", 1, 1024)
        self._spin(shap, "shap_max_evals", "Max evaluations", 10, 1_000_000, step=100,
                   tip="Model evaluations SHAP may spend (more: finer maps, slower)")
        self._spin(shap, "shap_batch_size", "Batch size", 1, 4096,
                   tip="Images per model call; cancel takes effect between batches")

        background = self._group(layout, "SHAP (background set)")
        folder = BackgroundFolderField()
        self._register(background, "shap_background", "Background", folder, folder.folderChanged,
                       BACKGROUND_TIP)
        self._spin(background, "shap_max_background", "Max images", 1, 10_000,
                   tip="Use at most this many background images (a random subset when the folder has more)")
        self._spin(background, "shap_gradient_samples", "Samples", 1, 100_000, step=50,
                   tip="Points between the image and the background per class "
                       "(GradientExplainer; more: smoother maps, slower)")

        lime = self._group(layout, "LIME")
        self._spin(lime, "lime_samples", "Samples", 2, 1_000_000, step=100,
                   tip="Perturbed images LIME evaluates")
        self._spin(lime, "lime_features", "Features", 1, 100_000,
                   tip="Segments kept in LIME's linear model")
        self._combo(lime, "lime_segmentation", "Segmentation", {s: s for s in SEGMENTATIONS})
        self._combo(lime, "lime_hide_colour", "Hide colour", HIDE_COLOURS,
                    tip="Colour that replaces a switched-off segment")

        view = self._group(layout, "LIME view (redraws only)")
        self._combo(view, "lime_view", "Show", LIME_VIEWS)
        self._spin(view, "lime_view_features", "Segments shown", 1, 1000)
        boundaries = QCheckBox("Segment boundaries")
        self._register(view, "lime_boundaries", "", boundaries, boundaries.toggled)

        defaults = QPushButton("Restore defaults")
        defaults.setObjectName("restoreDefaults")
        defaults.clicked.connect(self.restore_defaults)
        layout.addWidget(defaults, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        self.setWidget(body)
        self.wheel_guard = WheelGuard(self)  # the wheel scrolls the panel, not the field under it
        self.wheel_guard.guard(body)
        self.set_values(load_settings())

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().showEvent(event)
        # Wide enough for the form without a horizontal scroll bar (which would hide values).
        # Measured once shown: in the constructor fonts and styles do not apply yet, and the
        # width came out too narrow, clipping the values on the right.
        body = self.widget()
        self.setMinimumWidth(body.sizeHint().width() + self.verticalScrollBar().sizeHint().width() + 2)

    # ------------------------------------------------------------------ values

    def settings(self) -> ExplainSettings:
        values = {}
        for f in fields(ExplainSettings):
            widget = self.widgets[f.name]
            if isinstance(widget, QComboBox):
                values[f.name] = widget.currentData()
            elif isinstance(widget, QSpinBox):
                values[f.name] = widget.value()
            elif isinstance(widget, BackgroundFolderField):
                values[f.name] = widget.folder()
            else:
                values[f.name] = widget.isChecked()
        return ExplainSettings(**values)

    def set_values(self, settings: ExplainSettings, save: bool = False) -> None:
        self._quiet = not save
        try:
            for f in fields(ExplainSettings):
                self._set_widget(f.name, getattr(settings, f.name))
        finally:
            self._quiet = False
        self._update_enabled()
        self.limeViewChanged.emit(self.settings().lime_view_object())

    def apply_overrides(self, **values) -> None:
        """Command-line values for this run only: shown, used, never saved."""
        current = self.settings()
        changes = {k: v for k, v in values.items() if v is not None}
        for name in changes:
            if not hasattr(current, name):
                raise KeyError(name)
        self._quiet = True
        try:
            for name, value in changes.items():
                self._set_widget(name, value)
        finally:
            self._quiet = False
        self._update_enabled()

    def set_gradients_available(self, available: bool, reason: str = "") -> None:
        """Grey out the choices that need gradients (with ``reason`` as their tooltip) while
        the model in use has none. A saved choice that needs them is shown as SHAP and LIME
        for that model, unsaved, and comes back when a model with gradients loads."""
        self._no_gradients = "" if available else (reason or "this model has no gradients")
        combo = self.widgets["methods"]
        items = combo.model()
        for row in range(combo.count()):
            needs = any(m in GRADIENT_METHODS for m in str(combo.itemData(row)).split(","))
            item = items.item(row)
            item.setEnabled(available or not needs)
            item.setToolTip("" if available or not needs else f"Needs gradients: {self._no_gradients}")
        current = str(combo.currentData())
        self._quiet = True
        try:
            if not available and any(m in GRADIENT_METHODS for m in current.split(",")):
                self._methods_with_gradients = current
                self._set_widget("methods", NO_GRADIENT_CHOICE)
            elif available and self._methods_with_gradients is not None:
                self._set_widget("methods", self._methods_with_gradients)
                self._methods_with_gradients = None
        finally:
            self._quiet = False
        for name in ("instant_preview", "preview_ig"):
            widget = self.widgets[name]
            tip = widget.property("usualTip")
            if tip is None:
                widget.setProperty("usualTip", widget.toolTip())
                tip = widget.toolTip()
            widget.setToolTip(str(tip) if available else f"Needs gradients: {self._no_gradients}")
        self._update_enabled()

    @property
    def gradients_available(self) -> bool:
        return not self._no_gradients

    def restore_defaults(self) -> None:
        self.set_values(default_settings(), save=True)

    # ------------------------------------------------------------------ building

    def _group(self, layout: QVBoxLayout, title: str) -> QFormLayout:
        collapsible = QCollapsible(title)
        collapsible.setObjectName(f"group:{title}")
        inner = QWidget()
        form = QFormLayout(inner)
        form.setContentsMargins(8, 2, 4, 6)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(5)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        collapsible.addWidget(inner)
        collapsible.expand(animate=False)
        layout.addWidget(collapsible)
        return form

    def _combo(self, form: QFormLayout, name: str, label: str, choices: dict, tip: str = "") -> None:
        combo = QComboBox()
        # Size to a short text rather than the longest item, so the panel stays narrow.
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(12)
        for value, text in choices.items():
            combo.addItem(text, value)
        self._register(form, name, label, combo, combo.currentIndexChanged, tip)

    def _spin(self, form: QFormLayout, name: str, label: str, low: int, high: int,
              step: int = 1, tip: str = "") -> None:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.setGroupSeparatorShown(True)
        spin.setKeyboardTracking(False)  # save when typing ends, not at every digit
        self._register(form, name, label, spin, spin.valueChanged, tip)

    def _register(self, form: QFormLayout, name: str, label: str, widget: QWidget, signal,
                  tip: str = "") -> None:
        widget.setObjectName(name)
        if tip:
            widget.setToolTip(tip)
        self.widgets[name] = widget
        if label:
            caption = QLabel(label)
            caption.setFixedWidth(LABEL_WIDTH)
            caption.setBuddy(widget)
            if tip:
                caption.setToolTip(tip)
            form.addRow(caption, widget)
        else:
            form.addRow(widget)
        signal.connect(lambda *_: self._changed(name))

    def _set_widget(self, name: str, value) -> None:
        widget = self.widgets[name]
        if isinstance(widget, QComboBox):
            index = widget.findData(value)
            if index >= 0:
                widget.setCurrentIndex(index)
        elif isinstance(widget, QSpinBox):
            widget.setValue(int(value))
        elif isinstance(widget, BackgroundFolderField):
            widget.set_folder(str(value))
        else:
            widget.setChecked(bool(value))

    def _changed(self, name: str) -> None:
        self._update_enabled()
        if self._quiet:
            return
        save_setting(name, getattr(self.settings(), name))
        self.settingsChanged.emit(name)
        if name in LIME_VIEW_FIELDS:
            self.limeViewChanged.emit(self.settings().lime_view_object())

    def _update_enabled(self) -> None:
        settings = self.settings()
        self.widgets["shap_blur"].setEnabled(settings.shap_masker == "blur")
        methods = settings.method_list
        for name in ("shap_masker", "shap_blur", "shap_max_evals", "shap_batch_size"):
            self.widgets[name].setEnabled("shap" in methods and (name != "shap_blur" or settings.shap_masker == "blur"))
        for name in ("lime_samples", "lime_features", "lime_segmentation", "lime_hide_colour"):
            self.widgets[name].setEnabled("lime" in methods)
        self.widgets["preview_ig"].setEnabled(settings.instant_preview)
        ig_used = "ig" in methods or (settings.instant_preview and settings.preview_ig)
        self.widgets["ig_steps"].setEnabled(ig_used)
        self.widgets["ig_baseline"].setEnabled(ig_used)
        for name in ("shap_background", "shap_max_background", "shap_gradient_samples"):
            self.widgets[name].setEnabled("shap-gradient" in methods)
        self.widgets["faithfulness_steps"].setEnabled(settings.faithfulness)
        if self._no_gradients:  # the model in use cannot run them at all
            for name in GRADIENT_FIELDS:
                self.widgets[name].setEnabled(False)
