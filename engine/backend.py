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


def make_forward(model, max_batch: int = 64) -> Forward:
    """Return ``f(x float32 (N, H, W, C)) -> float32 (N, classes)``, compiled once.

    Inputs larger than ``max_batch`` are split to bound memory; the caller's batch stays the
    unit of progress and cancel.
    """
    name = backend_name()
    if name == "tensorflow":
        step = _tensorflow_forward(model)
    elif name == "jax":
        step = _jax_forward(model)
    elif name == "torch":
        step = _torch_forward(model)
    else:
        raise RuntimeError(f"unsupported Keras backend: {name}")

    def forward(x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if len(x) <= max_batch:
            return step(x)
        return np.concatenate([step(x[i : i + max_batch]) for i in range(0, len(x), max_batch)])

    return forward


def _tensorflow_forward(model) -> Forward:
    import tensorflow as tf

    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)

    @tf.function(input_signature=[spec])
    def call(x):
        return model(x, training=False)

    return lambda x: call(x).numpy().astype(np.float32, copy=False)


def _jax_forward(model) -> Forward:
    import jax

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    @jax.jit
    def call(tv, ntv, x):
        y, _ = model.stateless_call(tv, ntv, x, training=False)
        return y

    def forward(x: np.ndarray) -> np.ndarray:
        # jit compiles once per shape: pad to a power of two so odd tail batches reuse a build.
        n = len(x)
        padded = 1 << max(0, (n - 1).bit_length())
        if padded != n:
            x = np.concatenate([x, np.zeros((padded - n, *x.shape[1:]), x.dtype)])
        return np.asarray(call(trainable, non_trainable, x))[:n].astype(np.float32, copy=False)

    return forward


def _torch_forward(model) -> Forward:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"

    def forward(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            y = model(torch.from_numpy(x).to(device), training=False)
        return y.detach().cpu().numpy().astype(np.float32, copy=False)

    return forward


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
