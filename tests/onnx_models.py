"""ONNX classifiers built in the tests with ``onnx.helper`` (no PyTorch needed), the way
``torch.onnx.export`` lays them out: float32 input, NCHW, a dynamic "batch" dimension.

Each builder returns the ``ModelProto``; ``save`` writes it. The weights are seeded, so a
numpy or onnxruntime reference can check every number the app computes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from known_models import REGION, SIZE

IR_VERSION = 8  # readable by onnxruntime and OpenVINO alike
OPSET = 17


def _model(nodes, inputs, outputs, initializers, metadata=None, domains=()):
    from onnx import helper

    graph = helper.make_graph(nodes, "classifier", inputs, outputs, initializers)
    opsets = [helper.make_opsetid("", OPSET), *(helper.make_opsetid(d, 1) for d in domains)]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=IR_VERSION,
                              producer_name="pytorch")
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value)
    return model


def _tensor(name, shape):
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def conv_weights(classes=5, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 0.5, (4, channels, 3, 3)).astype(np.float32),
            rng.normal(0, 0.1, 4).astype(np.float32),
            rng.normal(0, 1.0, (classes, 4)).astype(np.float32),
            rng.normal(0, 0.1, classes).astype(np.float32))


def conv_net(size=16, classes=5, layout="NCHW", batch="batch", channels=3, head=None,
             reshape_batch=False, mixes_batch=False, metadata=None, open_width=False):
    """Conv 3×3 (4 filters) → ReLU → global average → Gemm to ``classes`` logits; ``head``
    "Softmax" or "Sigmoid" adds that op. NHWC models transpose first, as TensorFlow
    exports do. ``reshape_batch`` flattens with a fixed Reshape, as some exporters
    write a batch of one into the graph (here as (1, 4), no -1). ``mixes_batch`` averages
    over the batch axis, a no-op for the one image such a graph was exported for, so it
    only answers correctly one image at a time. ``open_width`` leaves the output's class
    dimension unnamed in the file, as some exporters do."""
    from onnx import helper, numpy_helper

    w, b, g, c = conv_weights(classes, channels)
    shape = [batch, channels, size, size] if layout == "NCHW" else [batch, size, size, channels]
    nodes = []
    first = "image"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]))
        first = "nchw"
    nodes += [helper.make_node("Conv", [first, "conv.weight", "conv.bias"], ["conv"], pads=[1, 1, 1, 1]),
              helper.make_node("Relu", ["conv"], ["relu"]),
              helper.make_node("GlobalAveragePool", ["relu"], ["pooled" if mixes_batch else "pool"])]
    if mixes_batch:
        nodes.append(helper.make_node("ReduceMean", ["pooled"], ["pool"], axes=[0], keepdims=1))
    initializers = [numpy_helper.from_array(w, "conv.weight"), numpy_helper.from_array(b, "conv.bias"),
                    numpy_helper.from_array(g, "fc.weight"), numpy_helper.from_array(c, "fc.bias")]
    if reshape_batch:
        initializers.append(numpy_helper.from_array(np.array([1, 4], np.int64), "flat_shape"))
        nodes.append(helper.make_node("Reshape", ["pool", "flat_shape"], ["flat"]))
    else:
        nodes.append(helper.make_node("Flatten", ["pool"], ["flat"]))
    scores = "logits" if head is None else "scores"
    nodes.append(helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], [scores], transB=1))
    if head is not None:
        nodes.append(helper.make_node(head, [scores], ["logits"]))
    width = "classes" if open_width else classes
    return _model(nodes, [_tensor("image", shape)], [_tensor("logits", [batch, width])],
                  initializers, metadata)


def conv_reference(pixels: np.ndarray, mean=0.0, std=1.0, classes=5) -> np.ndarray:
    """The conv net's logits in plain numpy, from (N, H, W, 3) images already preprocessed
    by ``(x - mean) / std``: the independent computation predictions are checked against."""
    w, b, g, c = conv_weights(classes)
    x = (np.asarray(pixels, np.float64) - mean) / std
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    n, h, width, _ = x.shape
    conv = np.zeros((n, h, width, 4))
    for dy in range(3):
        for dx in range(3):
            patch = padded[:, dy:dy + h, dx:dx + width, :]  # (N, H, W, C)
            conv += np.einsum("nhwc,oc->nhwo", patch, w[:, :, dy, dx])
    pooled = np.maximum(conv + b, 0).mean(axis=(1, 2))
    return pooled @ g.T + c


def region_net():
    """The known-answer model of ``known_models`` as an ONNX graph (NCHW, softmax): only the
    brightness of ``REGION`` decides between "bright region" (0) and "dark region" (1)."""
    from onnx import helper, numpy_helper

    sharpness = 12.0
    mask = np.zeros((3, SIZE, SIZE), bool)
    mask[:, REGION[0], REGION[1]] = True
    weights = np.zeros((3 * SIZE * SIZE, 2), np.float32)
    weights[mask.reshape(-1), 0] = sharpness / (255.0 * mask.sum())
    bias = np.array([0.0, sharpness * 0.5], np.float32)
    nodes = [helper.make_node("Flatten", ["image"], ["flat"]),
             helper.make_node("Gemm", ["flat", "w", "b"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
    return _model(nodes, [_tensor("image", ["batch", 3, SIZE, SIZE])],
                  [_tensor("probabilities", ["batch", 2])],
                  [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(bias, "b")],
                  metadata={"class_names": '["bright region", "dark region"]'})


def two_inputs():
    from onnx import helper

    nodes = [helper.make_node("Add", ["a", "b"], ["sum"]), helper.make_node("Flatten", ["sum"], ["logits"])]
    return _model(nodes, [_tensor("a", ["batch", 3, 8, 8]), _tensor("b", ["batch", 3, 8, 8])],
                  [_tensor("logits", ["batch", 192])], [])


def custom_op():
    from onnx import helper

    nodes = [helper.make_node("FastClassify", ["image"], ["logits"], domain="com.example.ops")]
    return _model(nodes, [_tensor("image", ["batch", 3, 8, 8])], [_tensor("logits", ["batch", 2])], [],
                  domains=["com.example.ops"])


def save(model, path: Path) -> Path:
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def save_with_outside_data(model, folder: Path) -> Path:
    """The model with its weights as external data, then the location rewritten to name a
    file outside its folder (as a hostile file would)."""
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "escape.onnx"
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    proto = onnx.load(str(path), load_external_data=False)
    for tensor in proto.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../outside/weights.bin"
    onnx.save(proto, str(path))
    return path
