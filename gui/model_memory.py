"""What the window remembers about models between runs (QSettings).

Per model file: the preprocessing, labels file and (ONNX) input layout last used with it, so opening it again
needs no thought. And the last model opened from the window, re-opened at the next launch
(a model given on the command line is for that run only and is not remembered). Trust is
never remembered: a file that runs code is confirmed each session.
"""

from __future__ import annotations

import json
from pathlib import Path

from gui.engine_requests import ModelRequest
from gui.settings_store import open_settings

CHOICES_KEY = "models/choices"  # JSON {model path: {"preprocess": …, "labels": …, "layout": …}}
LAST_KEY = "models/last"  # JSON {"model": …, "labels": …, "preprocess": …, "layout": …}
PRECISION_KEY = "models/precision"  # JSON "float32" | "bfloat16" (Model ▸ Fast CPU mode)
RESNET50 = "resnet50"


def model_key(model: str) -> str:
    """One spelling per model file, however it was reached."""
    if model == RESNET50:
        return model
    try:
        return str(Path(model).expanduser().resolve())
    except OSError:
        return model


def remembered_choices(model: str) -> dict:
    """``{"preprocess", "labels", "layout"}`` (each str or None) last used with this model."""
    entry = _read(CHOICES_KEY, {}).get(model_key(model), {})
    return {"preprocess": entry.get("preprocess"), "labels": entry.get("labels"),
            "layout": entry.get("layout")}


def remember_model(request: ModelRequest) -> None:
    """Called once a model opened from the window has loaded."""
    if request.model != RESNET50:
        choices = _read(CHOICES_KEY, {})
        choices[model_key(request.model)] = {"preprocess": request.preprocess, "labels": request.labels,
                                             "layout": request.layout}
        _write(CHOICES_KEY, choices)
    _write(LAST_KEY, {"model": model_key(request.model), "labels": request.labels,
                      "preprocess": request.preprocess, "layout": request.layout})


def remembered_precision() -> str:
    """Model ▸ Fast CPU mode, as last left: "bfloat16" or "float32"."""
    value = _read(PRECISION_KEY, "float32")
    return value if value in ("float32", "bfloat16") else "float32"


def remember_precision(precision: str) -> None:
    _write(PRECISION_KEY, precision)


def last_model_request() -> ModelRequest | None:
    """The model to re-open at launch; None for ResNet-50, nothing saved, or a file now gone."""
    last = _read(LAST_KEY, None)
    if not isinstance(last, dict) or not last.get("model") or last["model"] == RESNET50:
        return None
    if not Path(last["model"]).exists():
        return None
    return ModelRequest(model=last["model"], labels=last.get("labels") or None,
                        preprocess=last.get("preprocess") or None, layout=last.get("layout") or None)


def _read(key: str, default):
    raw = open_settings().value(key)
    if not raw:
        return default
    try:
        value = json.loads(str(raw))
    except ValueError:
        return default  # hand-edited or from an older version: start afresh
    return value if isinstance(value, type(default)) or default is None else default


def _write(key: str, value) -> None:
    store = open_settings()
    store.setValue(key, json.dumps(value))
    store.sync()
