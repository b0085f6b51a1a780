"""Wraps the model call an explainer makes: counts evaluations for progress, honours cancel.

shap and lime have no progress or cancel hooks of their own, but both call a prediction
function once per batch, so that call is where progress is counted and cancel is checked.
"""

from __future__ import annotations

import numpy as np

from engine.jobs import CancelToken, ProgressCounter


class GuardedPredict:
    def __init__(self, classifier, counter: ProgressCounter, cancel: CancelToken | None):
        self._classifier = classifier
        self._counter = counter
        self._cancel = cancel or CancelToken()
        self.evaluations = 0

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self._cancel.raise_if_cancelled()
        probabilities = self._classifier.predict(np.asarray(images))
        self.evaluations += len(probabilities)
        self._counter.add(len(probabilities))
        return probabilities
