"""What a classifier's output means, decided in one place for every model format.

predict, the explainers, gradients and evaluation all ask this module, so a head is never
read one way by one part of the app and another way by the next (a model ending in a
separate ``Softmax`` layer once had softmax applied twice).

Kinds:
- ``probabilities``: the output already sums to one (Dense softmax, a Softmax layer, an
  Activation("softmax"), a nested model ending in one, an ONNX Softmax node);
- ``logits``: unnormalised scores; softmax is applied once;
- ``multi-label``: several independent sigmoids; each is a probability of its own, never
  renormalised;
- ``binary``: one sigmoid output p; the classifier shows two classes, 1 − p and p.
"""

from __future__ import annotations

from enum import Enum

import numpy as np


class HeadKind(str, Enum):
    PROBABILITIES = "probabilities"
    LOGITS = "logits"
    MULTILABEL = "multi-label"
    BINARY = "binary"

    @property
    def exclusive(self) -> bool:
        """True when the classes compete (their probabilities sum to one)."""
        return self is not HeadKind.MULTILABEL


_NOTES = {
    "probabilities": "",
    "logits": "logits: softmax applied",
    "multi-label": "multi-label: independent probabilities",
    "binary": "binary: one sigmoid as two classes",
}


def note(kind: HeadKind) -> str:
    """A few words for people on what the probabilities are ("" for a softmax head)."""
    return _NOTES[HeadKind(kind).value]


def decide(final_activation: str | None, output_width: int) -> HeadKind:
    """The head kind from the last activation the model applies ("softmax", "sigmoid", or
    anything else / None for a linear output) and the width of its output."""
    activation = (final_activation or "").lower()
    if activation == "softmax":
        return HeadKind.PROBABILITIES
    if activation == "sigmoid":
        return HeadKind.BINARY if output_width == 1 else HeadKind.MULTILABEL
    return HeadKind.LOGITS


def class_count(kind: HeadKind, output_width: int) -> int:
    """Classes the user sees: a one-sigmoid binary model has two."""
    return 2 if kind is HeadKind.BINARY else int(output_width)


def to_probabilities(raw: np.ndarray, kind: HeadKind) -> np.ndarray:
    """(N, classes) float32 probabilities from the model's raw (N, width) output."""
    raw = np.asarray(raw, dtype=np.float32)
    if kind is HeadKind.LOGITS:
        z = raw - raw.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    if kind is HeadKind.BINARY:
        p = raw[:, :1]
        return np.concatenate([1.0 - p, p], axis=1).astype(np.float32)
    return raw


def keras_head(model) -> HeadKind:
    """The head kind of a Keras model, from its final layer and its output width."""
    return decide(keras_final_activation(model), int(model.output_shape[-1]))


def model_probabilities(raw: np.ndarray, kind: HeadKind, model_name: str) -> np.ndarray:
    """``to_probabilities`` for what a model just returned, refusing non-finite outputs with one
    line naming the model: a NaN would otherwise poison every score, map and accuracy after it."""
    if not np.all(np.isfinite(raw)):  # cheap: N × classes
        from engine.errors import ModelError

        raise ModelError(f"{model_name}: the model's outputs are not finite numbers (NaN or infinity); "
                         "its weights or preprocessing are broken")
    return to_probabilities(raw, kind)


def keras_final_activation(model) -> str | None:
    """The activation a Keras model applies last: "softmax", "sigmoid" or None. Read from
    the layer that produces the output, looking into nested models (the usual fine-tuning
    layout) as deep as they go."""
    return layer_activation(final_layer(model))


def final_layer(model):
    """The innermost layer whose output is the model's output; the gradients' cut
    (``engine.backend``) reads its input, so both must agree on which layer it is."""
    from engine.model_graph import flat_graph

    last = model.layers[-1] if getattr(model, "layers", None) else None
    outputs = getattr(model, "outputs", None) or []
    if last is not None and not _is_model(last) and len(outputs) == 1 \
            and _output_of(last) is outputs[0]:
        return last  # the common case, without re-running the graph
    try:
        graph = flat_graph(model)
    except Exception:  # a subclassed model: its last listed layer is the best guess
        layer = model.layers[-1] if getattr(model, "layers", None) else None
        while layer is not None and _is_model(layer) and getattr(layer, "layers", None):
            layer = layer.layers[-1]
        return layer
    step = graph.producer(graph.output)
    return step.layer if step is not None else None


def layer_activation(layer) -> str | None:
    """"softmax" or "sigmoid" where ``layer`` ends in one (a Softmax layer, an Activation,
    a Dense / convolution with that activation), else None."""
    if layer is None:
        return None
    if type(layer).__name__ == "Softmax":
        return "softmax"
    activation = getattr(getattr(layer, "activation", None), "__name__", "") or ""
    return activation if activation in ("softmax", "sigmoid") else None


def _output_of(layer):
    try:
        return layer.output
    except Exception:  # a layer called at several places has no single output
        return None


def _is_model(layer) -> bool:
    return type(layer).__name__ in ("Functional", "Sequential", "Model")


def probe_final_activation(scores: np.ndarray) -> str | None:
    """For a graph whose layers cannot be read (a SavedModel): scores from a few probe inputs.
    Rows in [0, 1] that sum to one are softmax, rows in [0, 1] otherwise sigmoid, else logits."""
    scores = np.asarray(scores, dtype=np.float64)
    if not np.all(np.isfinite(scores)) or scores.min() < -1e-6 or scores.max() > 1 + 1e-6:
        return None
    if scores.shape[1] > 1 and np.allclose(scores.sum(axis=1), 1.0, atol=1e-4):
        return "softmax"
    return "sigmoid"
