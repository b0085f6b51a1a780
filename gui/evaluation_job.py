"""A labelled-folder evaluation as it crosses to the engine thread and back.

Like ``ExplainJob``: the GUI keeps this record, the worker reads it, and ``cancel`` is shared
so the GUI thread can stop the run between two model batches without queuing behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.jobs import CancelToken


@dataclass
class EvaluationJob:
    job_id: int
    folder: str
    batch_size: int = 32
    cancel: CancelToken = field(default_factory=CancelToken)
    state: str = "queued"  # queued | running | done | cancelled | failed
    done: int = 0  # images predicted so far
    total: int = 0
    message: str = ""  # the one-line error when it failed
    started: float | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "failed")
