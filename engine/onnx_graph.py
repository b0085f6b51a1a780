"""Reading an ONNX file before anything runs it: safety checks and what the graph says.

ONNX graphs carry no Python code, but two things in one can reach outside it: tensors
stored as "external data" name other files to read, and nodes from a custom op domain
need a plugin library to run. Both are checked here, on the parsed protobuf (the ``onnx``
package, weights left on disk), before OpenVINO opens the file and follows those names.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import ModelError, first_line

STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")
# Ops that only move or relabel values: looked through to find the op that makes the output.
PASS_THROUGH_OPS = ("Identity", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Cast")
LABEL_KEYS = ("class_names", "labels", "classes")  # metadata_props keys read as class names


@dataclass
class OnnxGraph:
    """What the app needs to know about an ONNX classifier, read from its protobuf."""

    proto: object  # onnx.ModelProto without its weights' values (names, shapes and types kept)
    input_name: str
    input_shape: list  # ints for fixed dimensions, None for dynamic ones
    input_type: str
    output_name: str
    output_shape: list
    final_op: str  # the op that makes the output ("Softmax", "Gemm", …)
    opset: int
    op_counts: dict = field(default_factory=dict)
    parameters: int = 0  # elements of floating-point initializers
    metadata: dict = field(default_factory=dict)


def read_graph(path: Path) -> OnnxGraph:
    """Parse and check ``path``; ``ModelError`` (one line) for anything the app cannot use."""
    import onnx

    name = path.name
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # truncated or not protobuf at all
        raise ModelError(f"{name}: not a readable ONNX file ({first_line(exc)})") from exc
    graph = proto.graph
    if not graph.node or not graph.output:
        raise ModelError(f"{name}: not an ONNX model (no graph nodes or outputs)")
    refuse_custom_ops(name, proto)
    refuse_outside_data(name, proto, path.parent)
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ModelError(f"{name}: expected one image input, the model has {len(inputs)}")
    if len(graph.output) != 1:
        raise ModelError(f"{name}: expected one output of class scores, the model has {len(graph.output)}")
    image, scores = inputs[0], graph.output[0]
    drop_weight_values(proto)
    return OnnxGraph(proto=proto, input_name=image.name, input_shape=_shape(image),
                     input_type=_element_type(image), output_name=scores.name,
                     output_shape=_shape(scores), final_op=_final_op(graph, scores.name),
                     opset=_opset(proto), op_counts=dict(Counter(n.op_type for n in graph.node)),
                     parameters=_parameter_count(graph), metadata={p.key: p.value for p in proto.metadata_props})


def refuse_custom_ops(name: str, proto) -> None:
    """Nodes outside the standard domains need a plugin library: refuse them. A model's own
    local functions are allowed (their bodies are plain ONNX and are checked too)."""
    local = {(f.domain, f.name) for f in proto.functions}
    bodies = [proto.graph.node, *(f.node for f in proto.functions)]
    for nodes in bodies:
        for node in _all_nodes(nodes):
            if node.domain not in STANDARD_DOMAINS and (node.domain, node.op_type) not in local:
                raise ModelError(f"{name}: uses the custom operator {node.domain}::{node.op_type}, "
                                 "which needs a plugin library; only standard ONNX operators are supported")


def refuse_outside_data(name: str, proto, folder: Path) -> None:
    """External-data tensors may only name files inside the model's own folder (after
    resolving "..", absolute paths and symbolic links)."""
    root = folder.resolve()
    for tensor in _all_tensors(proto):
        if tensor.data_location != 1:  # onnx.TensorProto.EXTERNAL
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        target = (root / location).resolve()
        if not location or (target != root and root not in target.parents):
            raise ModelError(f"{name}: tensor {tensor.name!r} refers to data outside the model's "
                             f"folder ({location or 'no location'}); refused")


def drop_weight_values(proto) -> None:
    """Forget the initializers' numbers: OpenVINO holds the weights it runs, and a second
    copy here would double the memory a large model takes."""
    for tensor in proto.graph.initializer:
        for name in ("raw_data", "float_data", "double_data", "int32_data", "int64_data", "uint64_data"):
            tensor.ClearField(name)


def class_names_from_metadata(name: str, metadata: dict, expected: int) -> list[str] | None:
    """Class names stored in the file (``metadata_props``): a JSON list or dict of index ->
    name, or names separated by new lines or commas. None when the file has none."""
    key = next((k for k in LABEL_KEYS if metadata.get(k, "").strip()), None)
    if key is None:
        return None
    text = metadata[key].strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        try:
            data = [data[k] for k in sorted(data, key=int)]
        except (ValueError, TypeError):
            data = None
    if isinstance(data, list):
        names = [str(n) for n in data]
    else:
        separator = "\n" if "\n" in text else ","
        names = [n.strip() for n in text.split(separator) if n.strip()]
    if len(names) != expected:
        raise ModelError(f"{name}: its metadata {key!r} has {len(names)} names, but the model has "
                         f"{expected} classes (give a labels file instead)")
    return names


def _all_nodes(nodes):
    """Nodes, and the nodes of subgraphs (If / Loop / Scan bodies), depth first."""
    for node in nodes:
        yield node
        for attribute in node.attribute:
            for graph in [attribute.g] if attribute.HasField("g") else []:
                yield from _all_nodes(graph.node)
            for graph in attribute.graphs:
                yield from _all_nodes(graph.node)


def _all_tensors(proto):
    from onnx.external_data_helper import _get_all_tensors

    return _get_all_tensors(proto)


def _shape(value_info) -> list:
    tensor = value_info.type.tensor_type
    if not tensor.HasField("shape"):
        return []
    return [int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else None
            for d in tensor.shape.dim]


def _element_type(value_info) -> str:
    import onnx

    return onnx.TensorProto.DataType.Name(value_info.type.tensor_type.elem_type).lower()


def _final_op(graph, output: str) -> str:
    producers = {out: node for node in graph.node for out in node.output}
    node = producers.get(output)
    while node is not None and node.op_type in PASS_THROUGH_OPS and node.input:
        node = producers.get(node.input[0])
    return node.op_type if node is not None else ""


def _opset(proto) -> int:
    return next((int(o.version) for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)


def _parameter_count(graph) -> int:
    floating = (1, 10, 11, 16)  # FLOAT, FLOAT16, DOUBLE, BFLOAT16
    return int(sum(int(np.prod(t.dims)) for t in graph.initializer if t.data_type in floating))
