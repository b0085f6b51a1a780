"""A sanity check (engine.sanity) as it crosses to the engine thread and back.

Like ``EvaluationJob``: the GUI keeps this record, the worker reads it, and ``cancel`` is
shared so the GUI thread can stop the run between two model batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.jobs import CancelToken


@dataclass
class SanityJob:
    job_id: int
    image_key: int
    explanations: list  # engine.jobs.Explanation, one per method to check
    groups: int = 5  # cascade steps (engine.sanity.SanityParams)
    cancel: CancelToken = field(default_factory=CancelToken)
    state: str = "queued"  # queued | running | done | cancelled | failed
    done: int = 0  # model evaluations so far, all methods together
    total: int = 0
    stage: str = ""
    results: dict = field(default_factory=dict)  # method -> engine.sanity.sanity_check result
    message: str = ""  # the one-line error when it failed

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "failed")
