"""engine/heads.py: the one decision on what a classifier's output means (no Keras needed)."""

import numpy as np
import pytest

from engine.heads import HeadKind, class_count, decide, note, probe_final_activation, to_probabilities


@pytest.mark.parametrize("activation, width, kind", [
    ("softmax", 1000, HeadKind.PROBABILITIES), ("Softmax", 3, HeadKind.PROBABILITIES),
    (None, 10, HeadKind.LOGITS), ("relu", 10, HeadKind.LOGITS), ("linear", 1, HeadKind.LOGITS),
    ("sigmoid", 3, HeadKind.MULTILABEL), ("sigmoid", 1, HeadKind.BINARY),
])
def test_decide(activation, width, kind):
    assert decide(activation, width) is kind


def test_a_binary_head_has_two_classes_and_the_others_their_width():
    assert class_count(HeadKind.BINARY, 1) == 2
    assert [class_count(k, 5) for k in (HeadKind.PROBABILITIES, HeadKind.LOGITS, HeadKind.MULTILABEL)] == [5] * 3


def test_to_probabilities():
    z = np.array([[2.0, 0.0, -1.0], [1000.0, 999.0, 0.0]])  # large logits must not overflow
    p = to_probabilities(z, HeadKind.LOGITS)
    reference = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(p, reference / reference.sum(axis=1, keepdims=True), rtol=1e-6)
    sig = np.array([[0.9, 0.8, 0.1]])
    np.testing.assert_array_equal(to_probabilities(sig, HeadKind.MULTILABEL), sig.astype(np.float32))
    np.testing.assert_allclose(to_probabilities(np.array([[0.25], [1.0]]), HeadKind.BINARY),
                               [[0.75, 0.25], [0.0, 1.0]])
    assert to_probabilities(np.array([[0.25]]), HeadKind.BINARY).dtype == np.float32


def test_probing_outputs_of_a_graph_without_readable_layers():
    assert probe_final_activation(np.array([[0.2, 0.8], [0.5, 0.5]])) == "softmax"
    assert probe_final_activation(np.array([[0.9, 0.8], [0.1, 0.4]])) == "sigmoid"
    assert probe_final_activation(np.array([[0.3], [0.9]])) == "sigmoid"
    assert probe_final_activation(np.array([[3.0, -1.0]])) is None
    assert probe_final_activation(np.array([[np.nan, 0.5]])) is None


def test_notes_say_what_the_numbers_are():
    assert note(HeadKind.PROBABILITIES) == ""
    assert "independent" in note("multi-label") and "softmax" in note(HeadKind.LOGITS)
