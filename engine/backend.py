"""The only module that knows which Keras backend runs: compiled forward passes per backend.

Calling ``model.predict`` per batch costs a fixed overhead each time (callbacks, dataset
wrapping, retracing); explainers call the model hundreds of times, so every backend gets one
compiled function instead: ``tf.function`` for TensorFlow, ``jax.jit`` for JAX, ``no_grad``
for torch.
"""

from __future__ import annotations

import os
import weakref
from typing import Callable

import numpy as np

from engine.keras_import import import_keras

Forward = Callable[[np.ndarray], np.ndarray]
JAX_BATCH_BUCKETS = (1, 16, 64, 256)
# Which engine runs the forward pass: "keras" (the backend's own compiled function),
# "openvino" (the same network converted, CPU with TensorFlow only), "auto" (OpenVINO where
# it can run and agrees with Keras, else Keras). ``IMAGE_EXPLAINER_RUNTIME`` sets the default.
RUNTIMES = ("auto", "keras", "openvino")
# Arithmetic of the forward pass. "bfloat16" is a labelled speed choice, never a default: it
# changes the numbers slightly (OpenVINO on CPUs with bfloat16 instructions only).
PRECISIONS = ("float32", "bfloat16")


def backend_name() -> str:
    """The Keras backend in use."""
    return import_keras().backend.backend()


def device_description() -> str:
    """"CPU" or "GPU (name)" for the status bar and result metadata."""
    name = backend_name()
    try:
        if name == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            return f"GPU ({gpus[0].name})" if gpus else "CPU"
        if name == "jax":
            import jax

            dev = jax.devices()[0]
            return "CPU" if dev.platform == "cpu" else f"GPU ({dev.device_kind})"
        if name == "torch":
            import torch

            return f"GPU ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "CPU"
    except Exception:  # device probing must never break model loading
        pass
    return "CPU"


def backend_version() -> str:
    name = backend_name()
    try:
        module = __import__(name)
        return f"{name} {module.__version__}"
    except Exception:
        return name


def warm_up_batch_sizes() -> tuple[int, ...]:
    """Batch sizes worth compiling ahead: each bucket on JAX; TensorFlow traces once."""
    return JAX_BATCH_BUCKETS if backend_name() == "jax" else (1,)


def default_runtime() -> str:
    runtime = os.environ.get("IMAGE_EXPLAINER_RUNTIME", "auto").strip().lower() or "auto"
    if runtime not in RUNTIMES:
        raise ValueError(f"IMAGE_EXPLAINER_RUNTIME={runtime!r}: use one of {', '.join(RUNTIMES)}")
    return runtime


def make_model_forward(model, preprocess_mode: str = "none", runtime: str | None = None,
                       precision: str = "float32") -> tuple[Forward, str, str]:
    """The forward pass ``runtime`` asks for: ``(forward, "keras" | "openvino", note)``.

    ``note`` says why "auto" kept Keras (empty when it did not fall back, or was not asked
    to try). Gradients always go through Keras; only the forward pass changes. With
    ``precision="bfloat16"`` it is OpenVINO or an error, never a silent float32 fallback.
    """
    runtime = default_runtime() if runtime is None else runtime
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}: use one of {', '.join(RUNTIMES)}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    approximate = precision == "bfloat16"
    if approximate and runtime == "keras":
        raise ValueError("bfloat16 runs on the OpenVINO runtime only (not --runtime keras)")
    keras_forward = make_forward(model, preprocess_mode)
    if runtime == "keras":
        return keras_forward, "keras", ""
    if backend_name() != "tensorflow" or device_description() != "CPU":
        if runtime == "openvino" or approximate:
            raise ValueError("the OpenVINO runtime (and bfloat16) needs the TensorFlow backend on a CPU")
        return keras_forward, "keras", ""  # a GPU backend is faster than OpenVINO on CPU
    from engine.openvino_forward import OpenVinoUnavailable, openvino_forward

    try:
        return openvino_forward(model, preprocess_mode, precision=precision), "openvino", ""
    except OpenVinoUnavailable as exc:
        if runtime == "openvino" or approximate:
            raise ValueError(f"OpenVINO cannot run this model: {exc}") from None
        return keras_forward, "keras", f"OpenVINO not used: {exc}"


def make_forward(model, preprocess_mode: str = "none", max_batch: int | None = None) -> Forward:
    """Return ``f(pixels (N, H, W, C)) -> float32 (N, classes)``, compiled once.

    Preprocessing runs inside the compiled function, so 8-bit pixels travel to the device
    (a quarter of the bytes of float32) and the host does no per-pixel arithmetic. Inputs
    larger than ``max_batch`` are split to bound memory; on JAX all chunks are dispatched
    before any result is read, so the device never waits for the host between chunks.
    """
    from engine.preprocess import preprocess_ops

    name = backend_name()
    if max_batch is None:
        max_batch = 64 if device_description() == "CPU" else 256

    def prepared(x):
        return model(preprocess_ops(x, preprocess_mode), training=False)

    if name == "tensorflow":
        submit, collect = _tensorflow_forward(model, prepared)
    elif name == "jax":
        submit, collect = _jax_forward(model, preprocess_mode)
    elif name == "torch":
        submit, collect = _torch_forward(prepared)
    else:
        raise RuntimeError(f"unsupported Keras backend: {name}")

    def forward(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != np.uint8:
            x = np.ascontiguousarray(x, dtype=np.float32)
        pending = [submit(x[i : i + max_batch]) for i in range(0, len(x), max_batch)]
        outputs = [collect(p) for p in pending]
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)

    return forward


def _tensorflow_forward(model, prepared):
    import tensorflow as tf

    shape = [None, *model.input_shape[1:]]
    compiled = {  # one trace per input type, none per batch size
        dtype: tf.function(prepared, input_signature=[tf.TensorSpec(shape, dtype)])
        for dtype in (tf.uint8, tf.float32)
    }

    def submit(x):
        return compiled[tf.uint8 if x.dtype == np.uint8 else tf.float32](x)

    return submit, lambda y: y.numpy().astype(np.float32, copy=False)


def _jax_forward(model, preprocess_mode):
    import jax

    from engine.preprocess import preprocess_ops

    @jax.jit
    def call(tv, ntv, x):
        y, _ = model.stateless_call(tv, ntv, preprocess_ops(x, preprocess_mode), training=False)
        return y

    def submit(x):
        # jit compiles once per shape, and compiling a large network takes seconds: pad every
        # batch up to one of a few sizes, so explainers' odd batch sizes reuse those builds.
        n = len(x)
        padded = next((b for b in JAX_BATCH_BUCKETS if b >= n), n)
        if padded != n:
            x = np.concatenate([x, np.zeros((padded - n, *x.shape[1:]), x.dtype)])
        # Read the variables at each call: Keras' own predict/fit replace their buffers.
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        return call(trainable, non_trainable, x), n  # returns at once; the device works on

    def collect(pending):
        y, n = pending
        return np.asarray(y)[:n].astype(np.float32, copy=False)

    return submit, collect


def _torch_forward(prepared):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"

    def submit(x):
        with torch.no_grad():
            return prepared(torch.from_numpy(np.ascontiguousarray(x)).to(device))

    return submit, lambda y: y.detach().cpu().numpy().astype(np.float32, copy=False)


# ---------------------------------------------------------------------------------------------
# Gradients (Grad-CAM, Integrated Gradients)
#
# The class score that gradients follow is the logit before the head's softmax or sigmoid
# (a Dense layer with that activation, or a separate Softmax / Activation layer, also inside
# nested models; engine.heads decides the head kind): probabilities saturate, so their
# gradients vanish on confident predictions, and the softmax couples every class into each
# one's gradient. A binary head's class 1 is its logit, class 0 the negative. A logits head,
# or a graph whose last layer cannot be read, is differentiated as it is.
# ---------------------------------------------------------------------------------------------


class Gradients:
    """What one gradient call returns, as float32 numpy arrays (None where not asked for).

    ``scores`` (N, K): the class score of each row's K targets. ``input_grads``
    (N, K, H, W, C): d score / d pixels, in 0-255 pixel units. ``activations`` (N, h, w, c)
    and ``activation_grads`` (N, K, h, w, c): the chosen layer's output and d score / d it.
    """

    __slots__ = ("scores", "input_grads", "activations", "activation_grads")

    def __init__(self, scores, input_grads=None, activations=None, activation_grads=None):
        self.scores = scores
        self.input_grads = input_grads
        self.activations = activations
        self.activation_grads = activation_grads


GradientFn = Callable[[np.ndarray, np.ndarray], Gradients]


def find_gradcam_layer(model, head=None) -> str:
    """The name of the last layer with a 4-D output (N, h, w, c) that the class score depends
    on entirely: the last convolutional feature map, as Grad-CAM uses it. Nested models are
    looked into; on a branching graph a convolution that only one branch reads is passed
    over (the score cannot be cut there). ``head``: the classifier's head kind."""
    from engine.model_graph import depends_only_on

    keras = import_keras()
    graph = _graph_or_error(model)
    source = _score_source(model, head)[0]
    maps = _feature_map_steps(graph)
    for step in reversed(maps):
        if depends_only_on(keras, source, step.output):
            return step.name
    if not maps:
        raise ValueError(f"{model.name}: no convolutional layer (no layer with a 4-D output) "
                         "to take Grad-CAM from")
    raise ValueError(f"{model.name}: no single feature map carries the whole class score "
                     f"(branches run side by side: {_names(maps)}); Grad-CAM needs one "
                     "convolutional layer that every path to the output passes through")


def _feature_map_steps(graph) -> list:
    """Layers with a 4-D (N, h, w, c) output of more than one position, in graph order; a
    nested model is named by its own last layer, the one that computes the map."""
    steps = []
    for step in graph.steps:
        if step.nested:
            continue
        shape = tuple(getattr(step.output, "shape", ()) or ())
        if len(shape) == 4 and (shape[1] or 2) * (shape[2] or 2) > 1:
            steps.append(step)
    return steps


def _names(steps, limit: int = 8) -> str:
    """Layer names, last first, shortened to ``limit``."""
    names = list(dict.fromkeys(s.name for s in reversed(steps)))
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names) - limit} more)" if len(names) > limit else "")


def _graph_or_error(model):
    from engine.model_graph import flat_graph

    try:
        return flat_graph(model)
    except ValueError:
        raise
    except Exception as exc:  # a graph Keras cannot re-run
        raise ValueError(f"{model.name}: cannot take gradients through this model "
                         f"({type(exc).__name__}: {exc})") from exc


def make_gradient(model, preprocess_mode: str = "none", layer_name: str | None = None,
                  wrt_input: bool = True, max_batch: int | None = None,
                  head=None) -> GradientFn:
    """Return ``g(pixels (N, H, W, C), targets (N,) or (N, K) int) -> Gradients``, compiled once.

    Pixels are 0-255 (uint8 or float32: Integrated Gradients walks between pixel values);
    preprocessing runs inside, so input gradients are in pixel space. With ``layer_name``
    the layer's activations and their gradients come back too; ``wrt_input=False`` skips
    the backward pass through the layers before it (Grad-CAM needs only the layer). Each row
    is explained for each of its K targets: the layer's activations are computed once per
    row and shared by its targets, so Grad-CAM for K classes costs one forward pass.
    ``head`` is the classifier's head kind (``engine.heads``); None reads it from the model.
    """
    if layer_name is None and not wrt_input:
        raise ValueError("nothing to differentiate: give a layer or ask for input gradients")
    parts = _split_model(model, layer_name, head)
    name = backend_name()
    if max_batch is None:
        max_batch = 16 if device_description() == "CPU" else 64
    if name == "tensorflow":
        run = _tensorflow_gradient(preprocess_mode, parts, wrt_input)
    elif name == "jax":
        run = _jax_gradient(model, preprocess_mode, parts, wrt_input)
    elif name == "torch":
        run = _torch_gradient(preprocess_mode, parts, wrt_input)
    else:
        raise RuntimeError(f"unsupported Keras backend: {name}")

    def gradient(pixels: np.ndarray, targets: np.ndarray) -> Gradients:
        x = np.asarray(pixels)
        if x.dtype != np.uint8:
            x = np.ascontiguousarray(x, dtype=np.float32)
        t = np.asarray(targets, dtype=np.int32)
        if t.ndim == 1:
            t = t[:, None]
        if t.ndim != 2 or len(t) != len(x):
            raise ValueError("targets must be (N,) or (N, K) for N images")
        # K targets of a row cost K backward passes (and K forward passes with input
        # gradients), so memory is bounded by counting row-target pairs per chunk.
        rows = max(1, max_batch // t.shape[1])
        chunks = [run(x[i : i + rows], t[i : i + rows]) for i in range(0, len(x), rows)]
        fields = []
        for j in range(4):
            values = [c[j] for c in chunks]
            fields.append(None if values[0] is None else
                          values[0] if len(values) == 1 else np.concatenate(values))
        return Gradients(*fields)

    return gradient


_GRADIENT_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cached_gradient(classifier, layer_name: str | None = None, wrt_input: bool = True) -> GradientFn:
    """``make_gradient`` for a classifier (anything with ``keras_model`` and
    ``preprocess_mode``), kept as long as the classifier lives, so a second explanation
    starts warm. Keyed on the classifier, not the Keras model: the compiled functions hold
    the model, and a weak key must not be reachable from its own value."""
    per_classifier = _GRADIENT_CACHE.setdefault(classifier, {})
    head = getattr(classifier, "head_kind", None)
    key = (classifier.preprocess_mode, layer_name, bool(wrt_input), backend_name(), head)
    if key not in per_classifier:
        per_classifier[key] = make_gradient(classifier.keras_model, classifier.preprocess_mode,
                                            layer_name, wrt_input, head=head)
    return per_classifier[key]


class _Parts:
    """The model cut where gradients are taken: ``front`` maps model input to the layer's
    activations (or to the score's source when no layer is given), ``head`` maps those to
    the score's source, and ``logits`` turns the source into the model's raw scores, which
    ``scores`` maps to one score per class (a binary head's one logit z gives −z and z)."""

    def __init__(self, front, head, logits, input_shape, binary=False, from_logit=True):
        self.front = front
        self.head = head
        self.logits = logits
        self.input_shape = input_shape
        self.binary = binary
        self.from_logit = from_logit

    def scores(self, activations, flat_targets):
        from keras import ops

        source = activations if self.head is None else self.head(activations, training=False)
        raw = ops.cast(self.logits(source), "float32")
        if self.binary:  # class 0 is "not class 1": −logit, or 1 − p without a logit
            other = -raw if self.from_logit else 1.0 - raw
            raw = ops.concatenate([other, raw], axis=1)
        return ops.take_along_axis(raw, ops.expand_dims(flat_targets, 1), axis=1)[:, 0]


def class_score_name(model, head=None) -> str:
    """What gradients differentiate: "logit" (before the softmax or sigmoid) where the head
    has one to read, else "output" (the model's own output: logits of a logits head, or the
    probabilities of a graph whose layers cannot be read)."""
    return _score_source(model, head)[2]


def _head_kind(model, head):
    from engine import heads

    return heads.HeadKind(head) if head is not None else heads.keras_head(model)


def _score_source(model, head=None):
    """``(tensor, to_logits, name)``: the tensor of the flat graph that class scores are read
    from, the function that turns it into raw per-output scores, and what they are.

    The head kind comes from ``engine.heads`` (the one decision); this finds where, in the
    graph, the scores before its softmax or sigmoid are: the input of a Softmax / Activation
    layer, or the last Dense layer's matmul without its activation, in nested models too.
    """
    from engine import heads

    graph = _graph_or_error(model)
    kind = _head_kind(model, head)

    def same(z):
        return z

    if kind is heads.HeadKind.LOGITS:
        return graph.output, same, "output"
    step = graph.producer(graph.output)
    layer = step.layer if step is not None else None
    activation = heads.layer_activation(layer) if layer is not None else None
    if activation is None:  # e.g. a SavedModel: its probabilities are all there is
        return graph.output, same, "output"
    if type(layer).__name__ in ("Softmax", "Activation"):  # its input is the logits
        return step.inputs[0], same, "logit"
    if type(layer).__name__ != "Dense":  # an activation inside a layer we cannot undo
        return graph.output, same, "output"

    def dense_logits(features):
        from keras import ops

        z = ops.matmul(features, layer.kernel)
        return z + layer.bias if layer.use_bias else z

    return step.inputs[0], dense_logits, "logit"


def _split_model(model, layer_name, head=None):
    from engine import heads
    from engine.model_graph import depends_only_on

    keras = import_keras()
    graph = _graph_or_error(model)
    source, logits, name = _score_source(model, head)
    binary = _head_kind(model, head) is heads.HeadKind.BINARY
    try:
        if layer_name is None:
            front, cut = keras.Model(graph.inputs, source), None
        else:
            step = graph.step(layer_name)
            if step is None:
                raise ValueError(f"{model.name} has no layer {layer_name!r}")
            shape = tuple(getattr(step.output, "shape", ()) or ())
            if len(shape) != 4:
                raise ValueError(f"layer {layer_name!r} has output {shape}; Grad-CAM needs a "
                                 "4-D (N, h, w, c) feature map")
            if not depends_only_on(keras, source, step.output):
                working = _working_maps(keras, graph, source)
                hint = (f"pass one the whole score goes through with --layer NAME (candidates, "
                        f"last first: {_names(working)})" if working else
                        "no feature map of this model carries the whole score")
                raise ValueError(f"layer {layer_name!r}: part of the class score goes around it "
                                 f"(another branch); {hint}")
            front = keras.Model(graph.inputs, step.output)
            cut = keras.Model(step.output, source)
    except ValueError:
        raise
    except Exception as exc:  # a graph Keras cannot cut
        raise ValueError(f"{model.name}: cannot take gradients through this model "
                         f"({type(exc).__name__}: {exc})") from exc
    return _Parts(front, cut, logits, tuple(model.input_shape[1:]), binary, name == "logit")


def _working_maps(keras, graph, source) -> list:
    from engine.model_graph import depends_only_on

    return [s for s in _feature_map_steps(graph) if depends_only_on(keras, source, s.output)]


def _tensorflow_gradient(preprocess_mode, parts, wrt_input):
    import tensorflow as tf

    from engine.preprocess import preprocess_ops

    with_layer = parts.head is not None

    def run(x, targets):
        k = tf.shape(targets)[1]
        flat = tf.reshape(targets, [-1])
        act = act_grads = input_grads = None
        if wrt_input:
            rows = tf.repeat(tf.cast(x, tf.float32), k, axis=0)  # one row per (image, target)
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(rows)
                features = parts.front(preprocess_ops(rows, preprocess_mode), training=False)
                scores = parts.scores(features, flat)
            if with_layer:
                input_grads, act_grads = tape.gradient(scores, [rows, features])
                act = features[::k]
            else:
                input_grads = tape.gradient(scores, rows)
        else:
            act = parts.front(preprocess_ops(x, preprocess_mode), training=False)
            rows = tf.repeat(act, k, axis=0)
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(rows)
                scores = parts.scores(rows, flat)
            act_grads = tape.gradient(scores, rows)
        return _reshape_outputs(tf.reshape, tf.shape(targets), scores, input_grads, act,
                                act_grads)

    specs = {dtype: tf.function(run, input_signature=[
        tf.TensorSpec([None, *parts.input_shape], dtype), tf.TensorSpec([None, None], tf.int32)])
        for dtype in (tf.uint8, tf.float32)}

    def call(x, targets):
        out = specs[tf.uint8 if x.dtype == np.uint8 else tf.float32](x, targets)
        return tuple(None if v is None else v.numpy().astype(np.float32, copy=False) for v in out)

    return call


def _reshape_outputs(reshape, target_shape, scores, input_grads, act, act_grads):
    """Rows of (image, target) pairs back to (N, K, ...) arrays."""

    def split(v):
        if v is None:
            return None
        return reshape(v, [target_shape[0], target_shape[1], *v.shape[1:]])

    return reshape(scores, target_shape), split(input_grads), act, split(act_grads)


def _jax_gradient(model, preprocess_mode, parts, wrt_input):
    import jax
    import jax.numpy as jnp

    from engine.preprocess import preprocess_ops

    keras = import_keras()
    with_layer = parts.head is not None

    def run(trainable, non_trainable, x, targets):
        # As model.stateless_call does: every variable of the whole model (the cut parts and
        # the last layer's kernel share them) reads the values passed in, not captured ones.
        mapping = list(zip(model.trainable_variables, trainable))
        mapping += list(zip(model.non_trainable_variables, non_trainable))
        n, k = targets.shape
        flat = targets.reshape(-1)
        act = act_grads = input_grads = None
        with keras.StatelessScope(state_mapping=mapping):
            def front(pixels):
                return parts.front(preprocess_ops(pixels, preprocess_mode), training=False)

            def head(features):
                return parts.scores(features, flat)

            if wrt_input:
                rows = jnp.repeat(x.astype(jnp.float32), k, axis=0)
                features, pull_front = jax.vjp(front, rows)
                scores, pull_head = jax.vjp(head, features)
                (feature_grads,) = pull_head(jnp.ones_like(scores))
                (input_grads,) = pull_front(feature_grads)
                if with_layer:
                    act, act_grads = features[::k], feature_grads
            else:
                act = front(x)
                scores, pull_head = jax.vjp(head, jnp.repeat(act, k, axis=0))
                (act_grads,) = pull_head(jnp.ones_like(scores))
        return _reshape_outputs(jnp.reshape, (n, k), scores, input_grads, act, act_grads)

    compiled = jax.jit(run)

    def call(x, targets):
        n = len(x)
        padded = 1 << max(0, (n - 1).bit_length())  # one build per power of two, as forward
        if padded != n:
            x = np.concatenate([x, np.zeros((padded - n, *x.shape[1:]), x.dtype)])
            targets = np.concatenate([targets, np.zeros((padded - n, targets.shape[1]),
                                                        targets.dtype)])
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        out = compiled(trainable, non_trainable, x, targets)
        return tuple(None if v is None else np.asarray(v)[:n].astype(np.float32, copy=False)
                     for v in out)

    return call


def _torch_gradient(preprocess_mode, parts, wrt_input):
    import torch

    from engine.preprocess import preprocess_ops

    device = "cuda" if torch.cuda.is_available() else "cpu"
    with_layer = parts.head is not None

    def call(x, targets):
        n, k = targets.shape
        pixels = torch.from_numpy(np.ascontiguousarray(x)).to(device)
        flat = torch.from_numpy(targets.reshape(-1).astype(np.int64)).to(device)
        act = act_grads = input_grads = None
        with torch.enable_grad():
            if wrt_input:
                rows = pixels.float().repeat_interleave(k, dim=0).requires_grad_(True)
                features = parts.front(preprocess_ops(rows, preprocess_mode), training=False)
                scores = parts.scores(features, flat)
                wanted = [rows, features] if with_layer else [rows]
                grads = torch.autograd.grad(scores.sum(), wanted)
                input_grads = grads[0]
                if with_layer:
                    act, act_grads = features[::k], grads[1]
            else:
                with torch.no_grad():
                    act = parts.front(preprocess_ops(pixels, preprocess_mode), training=False)
                rows = act.detach().repeat_interleave(k, dim=0).requires_grad_(True)
                scores = parts.scores(rows, flat)
                (act_grads,) = torch.autograd.grad(scores.sum(), [rows])

        def host(v):
            return None if v is None else v.detach().cpu().numpy().astype(np.float32, copy=False)

        out = _reshape_outputs(lambda v, s: v.reshape(*s), (n, k), scores, input_grads, act,
                               act_grads)
        return tuple(host(v) for v in out)

    return call
