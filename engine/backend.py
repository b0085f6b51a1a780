"""The only module that knows which Keras backend runs: compiled forward passes per backend.

Calling ``model.predict`` per batch costs a fixed overhead each time (callbacks, dataset
wrapping, retracing); explainers call the model hundreds of times, so every backend gets one
compiled function instead: ``tf.function`` for TensorFlow, ``jax.jit`` for JAX, ``no_grad``
for torch.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

Forward = Callable[[np.ndarray], np.ndarray]
JAX_BATCH_BUCKETS = (1, 16, 64, 256)


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


def import_keras():
    """Import Keras with TensorFlow's start-up chatter hidden.

    TensorFlow's C++ core prints info lines straight to file descriptor 2 before its log
    level applies, so the descriptor itself is pointed at /dev/null while it loads. Python
    exceptions still propagate normally.
    """
    import sys

    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):
        import keras

        return keras
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return keras
