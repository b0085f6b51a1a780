"""Input preprocessing modes: how 0-255 RGB pixels become the numbers a model expects."""

from __future__ import annotations

import numpy as np

# ImageNet channel means in BGR order, as keras.applications.imagenet_utils "caffe" mode uses.
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)

PREPROCESS_MODES = {
    "none": "raw 0-255",
    "unit": "divide by 255 (0-1)",
    "caffe": "RGB->BGR, subtract ImageNet mean (ResNet-50)",
    "tf": "scale to [-1, 1]",
}


def preprocess(images: np.ndarray, mode: str) -> np.ndarray:
    """Map a batch (N, H, W, C) of 0-255 pixels to model input, as float32 (never in place)."""
    x = np.asarray(images, dtype=np.float32)
    if mode == "none":
        return x.copy() if x is images else x
    if mode == "unit":
        return x / 255.0
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "caffe":
        if x.shape[-1] != 3:
            raise ValueError("caffe preprocessing needs 3-channel images")
        return x[..., ::-1] - _CAFFE_MEAN_BGR
    raise ValueError(f"unknown preprocessing {mode!r}; choose one of {', '.join(PREPROCESS_MODES)}")


def preprocess_ops(x, mode: str):
    """The same mapping as ``preprocess``, in Keras ops, for use inside a compiled forward pass."""
    from keras import ops

    x = ops.cast(x, "float32")
    if mode == "none":
        return x
    if mode == "unit":
        return x / 255.0
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "caffe":
        return ops.flip(x, axis=-1) - ops.convert_to_tensor(_CAFFE_MEAN_BGR)
    raise ValueError(f"unknown preprocessing {mode!r}; choose one of {', '.join(PREPROCESS_MODES)}")
