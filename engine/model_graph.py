"""A Keras model's graph with nested models opened up: every layer's output is a tensor of one
flat graph, so gradients can be cut at any layer, however deep it sits.

A fine-tuned model usually holds its pretrained backbone as one layer; the backbone's last
convolution (what Grad-CAM wants) and a nested head's pre-softmax logits (what gradients
follow) are then tensors of the inner graph only. Re-running the graph layer by layer, with
every nested model replaced by its own layers, gives one graph where they all live. The
layers themselves are shared, not copied: the weights stay the model's.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field


@dataclass
class Step:
    """One layer call of the flat graph: ``inputs`` and ``output`` are its tensors there."""

    layer: object
    inputs: list
    output: object
    nested: bool = False  # a whole nested model (its own layers are steps too)

    @property
    def name(self) -> str:
        return self.layer.name


@dataclass
class FlatGraph:
    inputs: list
    output: object
    steps: list[Step] = field(default_factory=list)  # in the order they run

    def step(self, name: str) -> Step | None:
        """The layer called ``name``; a nested model's name wins over a same-named inner layer."""
        found = [s for s in self.steps if s.name == name]
        outer = [s for s in found if s.nested]
        return (outer or found or [None])[-1]

    def producer(self, tensor) -> Step | None:
        """The innermost layer whose output is ``tensor``."""
        return next((s for s in reversed(self.steps) if s.output is tensor and not s.nested), None)


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def flat_graph(model) -> FlatGraph:
    """The model's graph with nested models opened up (cached per model)."""
    if model not in _CACHE:
        _CACHE[model] = _flatten(model)
    return _CACHE[model]


def _graph_of(model):
    """The functional graph behind a model: itself, or a built Sequential's; None for a
    subclassed model or a plain layer."""
    if hasattr(model, "_run_through_graph") and hasattr(model, "_nodes_by_depth"):
        return model
    inner = getattr(model, "_functional", None)
    return inner if inner is not None and hasattr(inner, "_run_through_graph") else None


def _flatten(model) -> FlatGraph:
    from engine.keras_import import import_keras

    keras = import_keras()
    graph = _graph_of(model)
    if graph is None:
        raise ValueError(f"{model.name}: a subclassed model has no graph to take gradients from")
    inputs = [keras.Input(batch_shape=tuple(t.shape), dtype=t.dtype) for t in graph.inputs]
    steps: list[Step] = []

    def run(functional, tensors):
        def operation_fn(operation):
            inner = _graph_of(operation) if operation is not functional else None

            def call(*args, **kwargs):
                if inner is not None:  # a nested model: run its own layers here
                    given = keras.tree.flatten((args, kwargs))
                    output = run(inner, given[: len(inner.inputs)])
                    steps.append(Step(operation, given, output, nested=True))
                    return output
                output = operation(*args, **kwargs)
                steps.append(Step(operation, keras.tree.flatten((args, kwargs)), output))
                return output

            return call

        return functional._run_through_graph(tensors, operation_fn=operation_fn)

    output = run(graph, inputs)
    if isinstance(output, (list, tuple)):
        if len(output) != 1:
            raise ValueError(f"{model.name}: expected one output, the model has {len(output)}")
        (output,) = output
    return FlatGraph(inputs, output, steps)


def depends_only_on(keras, source, tensor) -> bool:
    """True when ``source`` can be computed from ``tensor`` alone: every path from the input
    to ``source`` passes through it, so a model can be cut there."""
    try:
        head = keras.Model(tensor, source)
        head.compute_output_spec(keras.KerasTensor(tensor.shape, dtype=tensor.dtype))
    except Exception:  # "not connected", a graph Keras cannot cut there
        return False
    return True
