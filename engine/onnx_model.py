"""An ONNX image classifier (a PyTorch export, usually), run by OpenVINO on the CPU.

It offers what the engine uses from ``engine.models.Classifier`` (input size, channels,
class names, preprocessing, ``predict`` on 0-255 RGB batches, ``top_k``, ``describe``,
``summary``), so SHAP (Partition), LIME, the faithfulness score and evaluation run on it
unchanged. It has no gradients (``supports_gradients`` is False): Grad-CAM, Integrated
Gradients and background-set SHAP are refused by name.

The file is checked before OpenVINO reads it (``engine.onnx_graph``). The network is
compiled with the pixels' layout change (NHWC to the model's layout) and the preprocessing
in front of it, so, like the Keras forward pass, it takes the images as they are.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine import heads
from engine.errors import ModelError, first_line
from engine.jobs import Prediction
from engine.onnx_graph import OnnxGraph, class_names_from_metadata, drop_weight_values, read_graph
from engine.preprocess import PREPROCESS_MODES, openvino_preprocess

LAYOUTS = ("NCHW", "NHWC")
MAX_BATCH = 64
GRADIENT_NOTE = "ONNX models support shap and lime"
_GREY = np.array([0.299, 0.587, 0.114], np.float32)  # as the Keras classifier turns RGB grey


class OnnxClassifier:
    supports_gradients = False  # explainers that need gradients check this, not the type
    gradient_note = GRADIENT_NOTE
    untrained = False

    def __init__(self, graph: OnnxGraph, network_source, name: str, source: str,
                 preprocess_mode: str = "none", layout: str | None = None,
                 class_names: list[str] | None = None, labels_source: str = "",
                 precision: str = "float32"):
        """``network_source`` is what OpenVINO reads: the file's path, or serialised bytes
        (a modified copy). ``class_names`` None: from the metadata, else class 0…N-1."""
        if preprocess_mode not in PREPROCESS_MODES:
            raise ModelError(f"unknown preprocessing {preprocess_mode!r}; choose one of "
                             f"{', '.join(PREPROCESS_MODES)}")
        self.graph = graph
        self.name = name
        self.source = source
        self.preprocess_mode = preprocess_mode
        self.precision = precision
        self.runtime, self.runtime_note = "openvino", ""
        self._network_source = network_source
        self.layout = decide_layout(name, graph.input_shape, layout)
        self.input_size, self.channels = _image_geometry(name, graph, self.layout)
        if graph.input_type not in ("float", "float16", "double"):
            raise ModelError(f"{name}: expected a float image input, the model takes {graph.input_type}")
        if self.channels == 1 and preprocess_mode in ("caffe", "torch"):
            raise ModelError(f"{name}: {preprocess_mode} preprocessing needs a 3-channel model; "
                             "this one takes grey images")
        if len(graph.output_shape) != 2:
            raise ModelError(f"{name}: expected one output of class scores (batch, classes), "
                             f"got shape {_shape_text(graph.output_shape)}")
        self._forward = _compile(network_source, graph, self.layout, preprocess_mode, precision, name)
        width = graph.output_shape[1] or self._probe_width()
        self.head_kind = heads.decide(_activation(graph.final_op), width)
        self.outputs_probabilities = self.head_kind is not heads.HeadKind.LOGITS
        count = heads.class_count(self.head_kind, width)
        if class_names is None:
            class_names = class_names_from_metadata(name, graph.metadata, count)
            labels_source = "the model file's metadata" if class_names else labels_source
        if class_names is not None and len(class_names) != count:
            raise ModelError(f"{name}: {len(class_names)} labels, but the model has {count} classes")
        self.class_names = class_names or [f"class {i}" for i in range(count)]
        self.labels_source = labels_source or f"none found: class 0…{count - 1}"

    def network_digest(self) -> str:
        """Hash of the network OpenVINO runs (graph and weights): the result store keys on it,
        so two ONNX files never share stored results."""
        import hashlib

        digest = hashlib.blake2b(digest_size=16)
        if isinstance(self._network_source, (str, Path)):
            with open(self._network_source, "rb") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    digest.update(block)
        else:
            digest.update(bytes(self._network_source))
        return digest.hexdigest()

    # ------------------------------------------------------------------ the Classifier interface

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def label(self) -> str:
        return f"{self.name} (bfloat16)" if self.precision == "bfloat16" else self.name

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) float32 for 0-255 RGB images (N, H, W, 3)."""
        x = np.asarray(images)
        if x.ndim == 3:
            x = x[None]
        x = x.astype(np.float32, copy=False)
        if self.channels == 1 and x.shape[-1] == 3:
            x = (x @ _GREY)[..., None]
        try:
            raw = self._forward(x)
        except Exception as exc:  # a shape mismatch or a runtime failure: one clear line
            raise ModelError(f"{self.name}: the model failed to run: {first_line(exc)}") from exc
        return heads.model_probabilities(raw, self.head_kind, self.name)

    def top_k(self, probabilities: np.ndarray, k: int) -> list[Prediction]:
        order = np.argsort(probabilities)[::-1][: max(1, k)]
        return [Prediction(int(i), self.class_names[i], float(probabilities[i])) for i in order]

    def warm_up(self) -> None:
        self.predict(np.zeros((1, *self.input_size, 3), np.uint8))

    def describe(self) -> dict:
        return {
            "name": self.name, "source": self.source, "untrained": False, "format": "onnx",
            "preprocess": self.preprocess_mode, "input_size": list(self.input_size),
            "num_classes": self.num_classes, "channels": self.channels, "runtime": self.runtime,
            "precision": self.precision, "layout": self.layout, "head": self.head_kind.value,
            "onnx": {"input": {"name": self.graph.input_name, "shape": self.graph.input_shape,
                               "type": self.graph.input_type},
                     "output": {"name": self.graph.output_name, "shape": self.graph.output_shape},
                     "opset": self.graph.opset, "ops": dict(sorted(self.graph.op_counts.items())),
                     "parameters": self.graph.parameters},
        }

    def summary(self) -> list[dict]:
        """Rows as ``Classifier.summary`` gives them: one per op type (how many nodes), then
        the total. ONNX has no trainable / non-trainable split, so those are None."""
        rows = [{"name": op, "type": f"{count} node{'s' if count != 1 else ''}", "output_shape": "",
                 "params": self._op_parameters(op), "trainable_params": None,
                 "non_trainable_params": None, "is_total": False}
                for op, count in sorted(self.graph.op_counts.items(), key=lambda item: (-item[1], item[0]))]
        rows.append({"name": "Total", "type": f"{sum(self.graph.op_counts.values())} nodes",
                     "output_shape": "", "params": self.graph.parameters, "trainable_params": None,
                     "non_trainable_params": None, "is_total": True})
        return rows

    def summary_facts(self) -> list[tuple[str, str]]:
        """Lines for a model summary beside the table: format, input, output."""
        g = self.graph
        return [("Format", f"ONNX, opset {g.opset}, run by OpenVINO"),
                ("ONNX input", f"{g.input_name} {_shape_text(g.input_shape)} {g.input_type}, {self.layout}"),
                ("ONNX output", f"{g.output_name} {_shape_text(g.output_shape)} ({self.head_kind.value})"),
                ("Gradient methods", f"not available: {GRADIENT_NOTE}")]

    # ------------------------------------------------------------------ a copy with new weights

    def initializer_names(self) -> list[str]:
        """Floating-point weight tensors in the order the graph first uses them (input to
        output): the layers a cascading randomisation walks, from the end backwards."""
        floating = {t.name for t in self.graph.proto.graph.initializer if t.data_type in (1, 10, 11, 16)
                    and len(t.dims) > 0}
        order = []
        for node in self.graph.proto.graph.node:
            order.extend(i for i in node.input if i in floating and i not in order)
        return order

    def randomised(self, initializer_names, seed: int = 0) -> "OnnxClassifier":
        """A new classifier with the named weight tensors re-initialised: normal noise with
        each tensor's own standard deviation (0.05 where it is constant), seeded. Everything
        else (layout, preprocessing, class names, head) stays as it is here."""
        import onnx
        from onnx import numpy_helper

        names = list(initializer_names)
        unknown = sorted(set(names) - set(self.initializer_names()))
        if unknown:
            raise ModelError(f"{self.name}: no weight tensor named {', '.join(unknown)}")
        proto = onnx.load(self.source) if isinstance(self._network_source, (str, Path)) else \
            onnx.load_from_string(self._network_source)
        rng = np.random.default_rng(seed)
        by_name = {t.name: t for t in proto.graph.initializer}
        for tensor_name in names:
            original = numpy_helper.to_array(by_name[tensor_name])
            scale = float(original.std()) or 0.05
            noise = rng.normal(0.0, scale, original.shape).astype(original.dtype)
            by_name[tensor_name].CopyFrom(numpy_helper.from_array(noise, tensor_name))
        data = proto.SerializeToString()
        structure = onnx.load_from_string(data)
        drop_weight_values(structure)
        graph = replace(self.graph, proto=structure)
        return OnnxClassifier(graph, data, self.name, self.source, self.preprocess_mode, self.layout,
                              list(self.class_names), self.labels_source, self.precision)

    # ------------------------------------------------------------------ helpers

    def _probe_width(self) -> int:
        """Classes from one run, when the file leaves the output width open."""
        return int(self._forward(np.zeros((1, *self.input_size, self.channels), np.float32)).shape[1])

    def _op_parameters(self, op: str) -> int:
        sizes = {t.name: int(np.prod(t.dims)) for t in self.graph.proto.graph.initializer
                 if t.data_type in (1, 10, 11, 16)}
        used = {i for n in self.graph.proto.graph.node if n.op_type == op for i in n.input}
        return sum(sizes[name] for name in used if name in sizes)


def load_onnx_classifier(spec) -> OnnxClassifier:
    """``engine.models.load_classifier`` for a ``.onnx`` file (``ModelSpec``)."""
    from engine.labels import labels_beside, read_labels

    path = Path(spec.model)
    if not path.is_file():
        raise ModelError(f"{path.name}: model file not found")
    if spec.runtime == "keras":
        raise ModelError(f"{path.name}: ONNX models run on OpenVINO (--runtime keras is for Keras models)")
    graph = read_graph(path)
    labels = spec.labels or labels_beside(path)
    classifier = OnnxClassifier(graph, str(path), path.name, str(path), spec.preprocess or "none",
                                getattr(spec, "layout", None), None, "", spec.precision)
    if labels:  # read after loading: the class count may come from a probe
        classifier.class_names = read_labels(labels, classifier.num_classes)
        classifier.labels_source = str(labels)
    return classifier


def decide_layout(name: str, shape: list, requested: str | None) -> str:
    """NCHW or NHWC, from where a channel count of 1 or 3 sits; ``requested`` wins when it
    fits. Both or neither fitting: refused, asking for the layout."""
    if len(shape) != 4:
        raise ModelError(f"{name}: expected an image input of rank 4, got shape {_shape_text(shape)}")
    fits = {"NCHW": shape[1] in (1, 3), "NHWC": shape[3] in (1, 3)}
    if requested is not None:
        requested = requested.upper()
        if requested not in LAYOUTS:
            raise ModelError(f"unknown layout {requested!r}; choose NCHW or NHWC")
        if not fits[requested]:
            raise ModelError(f"{name}: input shape {_shape_text(shape)} has no 1 or 3 channels "
                             f"where {requested} puts them")
        return requested
    found = [layout for layout, ok in fits.items() if ok]
    if len(found) != 1:
        raise ModelError(f"{name}: cannot tell the layout from input shape {_shape_text(shape)}; "
                         "give it: --layout NCHW or --layout NHWC")
    return found[0]


def _image_geometry(name: str, graph: OnnxGraph, layout: str) -> tuple[tuple[int, int], int]:
    shape = graph.input_shape
    height, width, channels = (shape[2], shape[3], shape[1]) if layout == "NCHW" else shape[1:4]
    if height is None or width is None:
        raise ModelError(f"{name}: the input size is not fixed ({_shape_text(shape)}); "
                         "export the model with a fixed height and width")
    if shape[0] not in (None, 1):
        raise ModelError(f"{name}: the input batch size is fixed at {shape[0]}; export it with a "
                         "dynamic batch (or batch 1)")
    return (int(height), int(width)), int(channels)


def _activation(final_op: str) -> str | None:
    return {"Softmax": "softmax", "Sigmoid": "sigmoid"}.get(final_op)


def _shape_text(shape: list) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _compile(source, graph: OnnxGraph, layout: str, preprocess_mode: str, precision: str, name: str):
    """The forward pass ``f(float32 pixels (N, H, W, C)) -> raw scores (N, width)``.

    A file with a fixed batch of 1 is reshaped to a dynamic batch; if that fails, or the
    reshaped network answers a batch differently from one image at a time (a graph that
    hard-codes the batch in a Reshape), it runs one image at a time instead.
    """
    from engine.openvino_forward import _import_openvino, cpu_has_bfloat16

    ov = _import_openvino()
    if precision == "bfloat16" and not cpu_has_bfloat16():
        raise ModelError(f"{name}: bfloat16 needs a CPU with bfloat16 instructions; this one has none")
    core = ov.Core()

    def build(dynamic: bool):
        try:
            network = core.read_model(source if isinstance(source, str) else bytes(source))
            if dynamic and graph.input_shape[0] == 1:
                shape = network.input(0).get_partial_shape()
                shape[0] = ov.Dimension()
                network.reshape({network.input(0): shape})
            network = _with_preprocessing(ov, network, layout, preprocess_mode, graph.input_shape)
            compiled = core.compile_model(network, "CPU", {
                "INFERENCE_PRECISION_HINT": "bf16" if precision == "bfloat16" else "f32",
                "PERFORMANCE_HINT": "LATENCY"})
        except Exception as exc:  # noqa: BLE001 - reported as one line (or the batch-1 fallback)
            raise ModelError(f"{name}: OpenVINO cannot run this model: {first_line(exc)}") from exc
        return _Forward(compiled, MAX_BATCH if dynamic or graph.input_shape[0] is None else 1)

    if graph.input_shape[0] is None:
        return build(True)
    try:
        batched = build(True)
        if _answers_batches_alike(batched, graph, layout):
            return batched
    except Exception:  # noqa: BLE001 - the fixed batch stays; images go one at a time
        pass
    return build(False)


def _with_preprocessing(ov, network, layout: str, mode: str, shape: list):
    from openvino.preprocess import PrePostProcessor

    channels = shape[1] if layout == "NCHW" else shape[3]
    ppp = PrePostProcessor(network)
    ppp.input().tensor().set_element_type(ov.Type.f32).set_layout(ov.Layout("NHWC"))
    ppp.input().model().set_layout(ov.Layout(layout))
    try:
        openvino_preprocess(ppp.input().preprocess(), mode, int(channels))
    except ValueError as exc:
        raise ModelError(str(exc)) from None
    ppp.output().tensor().set_element_type(ov.Type.f32)
    return ppp.build()


def _answers_batches_alike(forward: "_Forward", graph: OnnxGraph, layout: str) -> bool:
    shape = graph.input_shape
    h, w, c = (shape[2], shape[3], shape[1]) if layout == "NCHW" else shape[1:4]
    probes = np.random.default_rng(0).uniform(0, 255, (2, h, w, c)).astype(np.float32)
    together = forward(probes)
    apart = np.concatenate([forward(probes[:1]), forward(probes[1:])])
    return together.shape == apart.shape and np.allclose(together, apart, rtol=1e-4, atol=1e-5)


class _Forward:
    """One infer request behind a lock (a request must never serve two calls at once)."""

    def __init__(self, compiled, batch: int):
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()
        self.batch = batch

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        outputs = []
        with self._lock:
            for i in range(0, len(x), self.batch):
                self._request.infer({0: x[i : i + self.batch]})
                outputs.append(self._request.get_output_tensor(0).data.astype(np.float32, copy=True))
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)
