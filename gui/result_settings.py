"""Which settings an image was last explained with, and how a kept result's settings differ.

Re-explaining an image with other settings recomputes its methods one by one (or only some
of them, if the job is cancelled or runs fewer methods); until then the window keeps the old
results on screen. ``setting_differences`` says what made such a result "earlier": each
setting the result was computed with that the latest request asked differently for.
Plain Python: the window decides how to show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# Settings that only split the work into batches: they never change a map.
WORK_ONLY = {"batch_size"}
SETTING_NAMES = {
    "masker": "masker", "max_evals": "max evaluations",
    "num_samples": "samples", "num_features": "features", "hide_color": "hide colour",
    "segmentation": "segmentation", "seed": "seed",
    "steps": "steps", "baseline": "baseline",
    "background": "background folder", "max_background": "background images", "samples": "samples",
}


@dataclass(frozen=True)
class RequestedSettings:
    """What the latest request for an image asked: each method's parameters (as the window
    sends them to the engine) and how many classes it explains (None: not known yet)."""

    params: dict = field(default_factory=dict)  # method -> keyword arguments
    classes: int | None = None

    @classmethod
    def of(cls, settings, num_classes: int | None) -> "RequestedSettings":
        """From ``gui.settings_store.ExplainSettings``; a model with fewer classes than asked
        for explains all it has (``num_classes``: the loaded model's, when known)."""
        params = {"shap": settings.shap_params(), "lime": settings.lime_params(), "ig": settings.ig_params(),
                  "shap-gradient": settings.background_params(), "gradcam": {}}
        classes = min(settings.classes, num_classes) if num_classes else None
        return cls(params, classes)

    def with_params(self, method: str, params: dict) -> "RequestedSettings":
        return replace(self, params={**self.params, method: dict(params)})


def setting_differences(explanation, requested: RequestedSettings | None) -> list[str]:
    """'max evaluations 500 → 700'-style lines, one per setting of ``explanation`` that the
    latest request asked differently for; empty when it matches (or nothing was asked)."""
    if requested is None:
        return []
    wanted = requested.params.get(explanation.method, {})
    lines = []
    for key, value in wanted.items():
        if key in WORK_ONLY or key not in explanation.params:
            continue
        if explanation.method == "ig" and key == "seed" and wanted.get("baseline") != "noise":
            continue  # the seed only draws the noise baseline
        used = explanation.params[key]
        if not _same(used, value):
            name = SETTING_NAMES.get(key, key.replace("_", " "))
            lines.append(f"{name} {_shown(key, used)} → {_shown(key, value)}")
    if requested.classes is not None and len(explanation.classes) != requested.classes:
        lines.append(f"classes {len(explanation.classes)} → {requested.classes}")
    return lines


def _same(used, wanted) -> bool:
    if isinstance(used, (int, float)) and isinstance(wanted, (int, float)) \
            and not isinstance(used, bool) and not isinstance(wanted, bool):
        return float(used) == float(wanted)
    return used == wanted


def _shown(key: str, value) -> str:
    if value is None:
        return "segment mean" if key == "hide_color" else "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
