"""Input preprocessing modes: how 0-255 RGB pixels become the numbers a model expects."""

from __future__ import annotations

import numpy as np

# ImageNet channel means in BGR order, as keras.applications.imagenet_utils "caffe" mode uses.
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
# ImageNet channel statistics on the 0-1 scale, RGB order, as torchvision's models expect.
_TORCH_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_TORCH_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

PREPROCESS_MODES = {
    "none": "raw 0-255",
    "unit": "divide by 255 (0-1)",
    "caffe": "RGB->BGR, subtract ImageNet mean (ResNet-50)",
    "tf": "scale to [-1, 1]",
    "torch": "divide by 255, then ImageNet mean/std per channel (PyTorch models)",
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
        _need_rgb(x.shape[-1], mode)
        return x[..., ::-1] - _CAFFE_MEAN_BGR
    if mode == "torch":
        _need_rgb(x.shape[-1], mode)
        return (x / 255.0 - _TORCH_MEAN) / _TORCH_STD
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
    if mode == "torch":
        return (x / 255.0 - ops.convert_to_tensor(_TORCH_MEAN)) / ops.convert_to_tensor(_TORCH_STD)
    raise ValueError(f"unknown preprocessing {mode!r}; choose one of {', '.join(PREPROCESS_MODES)}")


def openvino_preprocess(steps, mode: str, channels: int) -> None:
    """The same mapping as OpenVINO pre-processing steps (``PrePostProcessor.input().preprocess()``
    on an NHWC float tensor), so it is compiled into the network like the Keras ops are."""
    if mode in ("caffe", "torch"):
        _need_rgb(channels, mode)
    if mode == "none":
        return
    if mode == "unit":
        steps.scale(255.0)
    elif mode == "tf":
        steps.mean(127.5).scale(127.5)
    elif mode == "caffe":
        steps.reverse_channels().mean(_CAFFE_MEAN_BGR.tolist())
    elif mode == "torch":  # (x/255 - mean)/std == (x - 255 mean) / (255 std)
        steps.mean((255.0 * _TORCH_MEAN).tolist()).scale((255.0 * _TORCH_STD).tolist())
    else:
        raise ValueError(f"unknown preprocessing {mode!r}; choose one of {', '.join(PREPROCESS_MODES)}")


def _need_rgb(channels: int, mode: str) -> None:
    if channels != 3:
        raise ValueError(f"{mode} preprocessing needs 3-channel images")
