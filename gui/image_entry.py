"""What the window knows about one image while the app runs: pixels, predictions, results.

Results stay here for the whole session, so going back to an image shows its tabs at once.
They are held as the engine hands them over, one ``engine.pipeline.ResultSet`` per image
(explanations, scores, stability), gathered from its previews and jobs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.pipeline import ResultSet
from gui.result_settings import RequestedSettings, setting_differences

_keys = itertools.count(1)


def _nothing_yet() -> ResultSet:
    return ResultSet(image=np.zeros((0, 0, 3), np.uint8), predictions=[], targets=[])


@dataclass
class ImageEntry:
    name: str  # shown in the list; also the stem of exported files
    image: np.ndarray  # uint8 (H, W, 3), as loaded (the engine fits it to the model)
    source: str  # a file path, "sample:chelsea" or "clipboard"
    path: Path | None = None
    key: int = field(default_factory=lambda: next(_keys))
    status: str = "ready"  # ready | queued | explaining | done | failed | cancelled
    progress: float = 0.0  # 0..1 while explaining
    queue_position: int = 0  # 1 = next to run
    predictions: list | None = None  # engine.jobs.Prediction, best first
    prediction_error: str | None = None
    result: ResultSet = field(default_factory=_nothing_yet)  # what the engine made for this image
    error: str | None = None  # the last job's failure, one line
    requested: RequestedSettings | None = None  # what the latest explain asked for

    @property
    def results(self) -> dict:
        """method -> engine.jobs.Explanation (previews included)."""
        return self.result.explanations

    @property
    def metrics(self) -> dict:
        """method -> engine.metrics.faithfulness dict."""
        return self.result.scores

    @property
    def stability(self) -> dict:
        """method -> engine.stability.rerun_stability dict."""
        return self.result.stability

    @property
    def explanations(self) -> list:
        """Finished explanations in a stable order: SHAP, LIME, IG, then the Grad-CAM preview."""
        order = {"shap": 0, "shap-gradient": 0, "lime": 1, "ig": 2, "gradcam": 3}
        return [self.results[m] for m in sorted(self.results, key=lambda m: order.get(m, 9))]

    def add_result(self, explanation) -> None:
        """Keep the newest result per method; drop older ones that explain other classes."""
        self.results[explanation.method] = explanation
        self.result.image, self.result.targets = explanation.image, list(explanation.classes)
        self.metrics.pop(explanation.method, None)  # scored a map that is gone
        self.stability.pop(explanation.method, None)
        stale = [m for m, e in self.results.items() if list(e.classes) != list(explanation.classes)]
        for method in stale:
            del self.results[method]
            self.metrics.pop(method, None)
            self.stability.pop(method, None)

    def earlier_settings(self) -> dict[str, list[str]]:
        """method -> what differs, for each result made with settings other than those of the
        latest request (kept on screen until its method is recomputed)."""
        found = {method: setting_differences(result, self.requested) for method, result in self.results.items()}
        return {method: lines for method, lines in found.items() if lines}

    def status_text(self) -> str:
        if self.status == "explaining":
            return f"explaining {self.progress:.0%}"
        if self.status == "queued" and self.queue_position > 1:
            return f"queued (#{self.queue_position})"
        return self.status
