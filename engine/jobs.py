"""What crosses between the engine and its callers: cancel tokens, progress, results.

Only plain numpy arrays and dataclasses live here, so results can cross threads safely.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from engine.errors import Cancelled

__all__ = [
    "Cancelled",
    "CancelToken",
    "ProgressFn",
    "ProgressCounter",
    "Prediction",
    "Explanation",
    "no_progress",
]


class ProgressFn(Protocol):
    def __call__(self, done: int, total: int, stage: str) -> None: ...


def no_progress(done: int, total: int, stage: str) -> None:
    """A progress callback that ignores everything."""


class CancelToken:
    """A thread-safe cancel flag; the engine checks it at least once per model batch."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class ProgressCounter:
    """Counts model evaluations and reports them monotonically, throttled.

    ``total`` is an estimate that may grow (some explainers evaluate a few rows more than
    planned); ``done`` never exceeds it and never goes backwards. ``finish()`` reports
    ``done == total``.
    """

    def __init__(self, progress: ProgressFn, total: int, stage: str, min_interval_s: float = 0.05):
        self._progress = progress
        self.total = max(1, int(total))
        self.done = 0
        self.stage = stage
        self._min_interval_s = min_interval_s
        self._last_report = 0.0
        self._progress(0, self.total, stage)

    def add(self, n: int) -> None:
        self.done += int(n)
        if self.done > self.total:
            self.total = self.done
        now = time.monotonic()
        if now - self._last_report >= self._min_interval_s:
            self._last_report = now
            self._progress(self.done, self.total, self.stage)

    def finish(self) -> None:
        self.total = max(self.total, self.done)
        self.done = self.total
        self._progress(self.done, self.total, self.stage)


@dataclass(frozen=True)
class Prediction:
    index: int
    name: str
    probability: float

    def to_json(self) -> dict:
        return {"index": self.index, "name": self.name, "probability": self.probability}


@dataclass
class Explanation:
    """One method's explanation of one image, for one or more target classes.

    ``maps[k]`` is the attribution for ``classes[k]`` at the model's input size (H, W):
    positive pushes towards the class. ``extras`` holds method-specific arrays
    (LIME: ``segments`` (H, W) int and ``segment_weights`` (K, S); SHAP: ``values`` (K, H, W, C)).
    """

    method: str
    image: np.ndarray  # uint8 (H, W, 3), the exact model input
    classes: list[int]
    class_names: list[str]
    probabilities: list[float]
    maps: np.ndarray  # float32 (K, H, W)
    params: dict
    timings: dict
    versions: dict
    model: str
    untrained: bool = False
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    head: str = ""  # engine.heads.HeadKind value: what the probabilities are

    def index_of(self, class_index: int) -> int:
        return self.classes.index(class_index)


Callback = Callable[..., None]
