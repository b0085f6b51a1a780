"""The explain settings as one dataclass, remembered between runs with QSettings.

Defaults come from the engine's own parameter classes (``ShapParams``, ``LimeParams``), so
the window and the command line start from the same numbers. Those modules are imported
inside functions: they are cheap, but the rule for start-up modules is "nothing from
``engine.explain`` at import time".
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from PySide6.QtCore import QSettings

ORGANISATION = "ImageExplainer"
APPLICATION = "Image Explainer"
GROUP = "explain"

METHOD_CHOICES = {"shap,lime": "SHAP and LIME", "shap": "SHAP only", "lime": "LIME only",
                  "shap,lime,ig": "SHAP, LIME and IG", "ig": "Integrated Gradients only",
                  "shap-gradient": "SHAP (background set)",
                  "shap-gradient,lime": "SHAP (background set) and LIME"}
COMPARE_METHODS = "shap,lime,ig,gradcam"  # every method, so the Compare view has them all
METHOD_CHOICES[COMPARE_METHODS] = "All methods (compare)"
IG_BASELINES = {"black": "black image", "white": "white image", "blur": "blurred image",
                "noise": "random noise (seeded)"}
MAX_STABILITY_RUNS = 20
GUI_FAITHFULNESS_STEPS = 20  # the engine's default: the window shows what explain --metrics writes
SEGMENTATIONS = ("quickshift", "slic", "felzenszwalb")
MASKERS = ("inpaint_telea", "inpaint_ns", "blur")
HIDE_COLOURS = {"0": "black (0)", "mean": "segment mean"}
LIME_VIEWS = {"positive": "positive only", "positive_negative": "positive + negative",
              "hide_rest": "hide rest"}


@dataclass
class ExplainSettings:
    methods: str = "shap,lime"
    classes: int = 3
    seed: int = 0
    shap_masker: str = "inpaint_telea"
    shap_blur: int = 64  # kernel size k of blur(k,k)
    shap_max_evals: int = 500
    shap_batch_size: int = 50
    lime_samples: int = 1000
    lime_features: int = 1000
    lime_segmentation: str = "quickshift"
    lime_hide_colour: str = "0"
    lime_view: str = "positive_negative"
    lime_view_features: int = 10
    lime_boundaries: bool = True
    instant_preview: bool = True  # Grad-CAM as soon as the predictions are in
    preview_ig: bool = True  # ...followed by Integrated Gradients (the IG settings below)
    ig_steps: int = 32
    faithfulness: bool = False  # SRG scores (cells vs. random orders) after each method
    faithfulness_steps: int = GUI_FAITHFULNESS_STEPS
    shap_background: str = ""  # folder of typical images for background-set SHAP
    shap_max_background: int = 100
    shap_gradient_samples: int = 200
    ig_baseline: str = "black"  # where Integrated Gradients' path starts
    stability_runs: int = 0  # re-runs of randomised methods (LIME, IG with noise); 0: off

    @property
    def method_list(self) -> list[str]:
        return [m for m in self.methods.split(",") if m]

    def masker_text(self) -> str:
        return f"blur({self.shap_blur},{self.shap_blur})" if self.shap_masker == "blur" else self.shap_masker

    def shap_params(self) -> dict:
        """Keyword arguments for ``ShapParams`` (built in the engine thread)."""
        return {"masker": self.masker_text(), "max_evals": self.shap_max_evals,
                "batch_size": self.shap_batch_size}

    def lime_params(self) -> dict:
        """Keyword arguments for ``LimeParams``; hide colour None means "segment mean"."""
        hide = None if self.lime_hide_colour == "mean" else float(self.lime_hide_colour)
        return {"num_samples": self.lime_samples, "num_features": self.lime_features,
                "hide_color": hide, "segmentation": self.lime_segmentation, "seed": self.seed}

    def ig_params(self) -> dict:
        """Keyword arguments for ``IntegratedGradientsParams``."""
        return {"steps": self.ig_steps, "seed": self.seed, "baseline": self.ig_baseline}

    def background_params(self) -> dict:
        """Keyword arguments for ``ShapGradientParams`` (the worker reads the folder)."""
        return {"background": self.shap_background or None, "max_background": self.shap_max_background,
                "samples": self.shap_gradient_samples, "seed": self.seed}

    def faithfulness_plan(self) -> int:
        """Steps for engine.metrics.faithfulness, 0 when scoring is off."""
        return self.faithfulness_steps if self.faithfulness else 0

    def lime_view_object(self):
        from engine.render import LimeView

        return LimeView(mode=self.lime_view, num_features=self.lime_view_features,
                        boundaries=self.lime_boundaries)


def default_settings() -> ExplainSettings:
    from engine.explain.integrated_gradients import IntegratedGradientsParams
    from engine.explain.lime_image import LimeParams
    from engine.explain.shap_gradient import ShapGradientParams
    from engine.explain.shap_partition import ShapParams
    from engine.render import LimeView

    shap, lime, view = ShapParams(), LimeParams(), LimeView()
    ig = IntegratedGradientsParams()
    masker, blur = shap.masker, ExplainSettings.shap_blur
    if masker.startswith("blur("):
        blur = int(masker[5:].split(",")[0])
        masker = "blur"
    return ExplainSettings(
        seed=lime.seed, shap_masker=masker, shap_blur=blur, shap_max_evals=shap.max_evals,
        shap_batch_size=shap.batch_size, lime_samples=lime.num_samples,
        lime_features=lime.num_features, lime_segmentation=lime.segmentation,
        lime_hide_colour="mean" if lime.hide_color is None else f"{lime.hide_color:g}",
        lime_view=view.mode, lime_view_features=view.num_features, lime_boundaries=view.boundaries,
        ig_steps=ig.steps, shap_max_background=ShapGradientParams.max_background,
        shap_gradient_samples=ShapGradientParams.samples)


def open_settings() -> QSettings:
    # defaultFormat() rather than NativeFormat, so tests can redirect everything to a temp
    # INI file with QSettings.setDefaultFormat + QSettings.setPath.
    return QSettings(QSettings.defaultFormat(), QSettings.Scope.UserScope, ORGANISATION, APPLICATION)


def load_settings() -> ExplainSettings:
    """Saved values over the defaults; anything unreadable or out of range is ignored."""
    settings = default_settings()
    store = open_settings()
    store.beginGroup(GROUP)
    for f in fields(ExplainSettings):
        if not store.contains(f.name):
            continue
        raw = store.value(f.name)
        try:
            value = _convert(raw, type(getattr(settings, f.name)))
        except (TypeError, ValueError):
            continue
        if _valid(f.name, value):
            settings = replace(settings, **{f.name: value})
    store.endGroup()
    return settings


def save_setting(name: str, value) -> None:
    store = open_settings()
    store.setValue(f"{GROUP}/{name}", value)
    store.sync()


def _convert(raw, kind):
    if kind is bool:
        return raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1", "yes")
    return kind(raw)


def _valid(name: str, value) -> bool:
    choices = {"methods": METHOD_CHOICES, "shap_masker": MASKERS, "lime_segmentation": SEGMENTATIONS,
               "lime_hide_colour": HIDE_COLOURS, "lime_view": LIME_VIEWS, "ig_baseline": IG_BASELINES}
    if name in choices:
        return value in choices[name]
    if isinstance(value, int) and not isinstance(value, bool):
        if name == "stability_runs":
            return 0 <= value <= MAX_STABILITY_RUNS
        return value >= {"seed": 0, "ig_steps": 2, "faithfulness_steps": 2}.get(name, 1)
    return True
