"""The strip under the results: what is running, how far, how long left, Cancel, the queue."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton

from gui.engine_requests import ExplainJob


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class ProgressPanel(QFrame):
    cancelRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("progressPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel("Ready")
        self.title.setObjectName("progressTitle")
        self.title.setMinimumWidth(220)
        self.bar = QProgressBar()
        self.bar.setObjectName("progressBar")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("")  # nothing has run yet
        self.eta = QLabel()
        self.eta.setObjectName("etaLabel")
        self.eta.setMinimumWidth(150)
        self.queue = QLabel()
        self.queue.setObjectName("queueLabel")
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("cancelButton")
        self.cancel.setToolTip("Stop the running explanation (Esc); it stops within one model batch")
        self.cancel.setEnabled(False)
        self.cancel.clicked.connect(self.cancelRequested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        layout.setSpacing(12)
        layout.addWidget(self.title)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.eta)
        layout.addWidget(self.queue)
        layout.addWidget(self.cancel)
        self._job_id: int | None = None
        self._previewing = False
        self._loading = False

    def job_started(self, job: ExplainJob, name: str) -> None:
        self._job_id = job.job_id
        self.title.setText(f"Explaining <b>{_escape(name)}</b>")
        self.bar.setRange(0, max(1, job.total))
        self.bar.setValue(0)
        self.bar.setFormat("%v / %m evaluations")
        self.eta.setText("estimating time…")
        self.cancel.setEnabled(True)

    def job_progress(self, job: ExplainJob) -> None:
        if job.job_id != self._job_id:
            return
        self.bar.setRange(0, max(1, job.total))
        self.bar.setValue(min(job.done, job.total))
        self.bar.setFormat(f"{job.stage}  %v / %m evaluations")
        elapsed = time.monotonic() - (job.started or time.monotonic())
        if job.done > 0 and elapsed > 0.5:
            remaining = (job.total - job.done) * elapsed / job.done
            self.eta.setText(f"about {format_duration(remaining)} left")

    def job_ended(self, job: ExplainJob, name: str, message: str = "") -> None:
        if job.job_id != self._job_id:
            return
        self._job_id = None
        self.cancel.setEnabled(False)
        elapsed = time.monotonic() - (job.started or time.monotonic())
        text = {"done": f"Done: <b>{_escape(name)}</b> in {format_duration(elapsed)}",
                "cancelled": f"Cancelled: <b>{_escape(name)}</b> after {job.done} of {job.total} evaluations",
                "failed": f"<span style='color:#b3261e'>Failed: <b>{_escape(name)}</b></span>"}[job.state]
        self.title.setText(text)
        self.bar.setFormat("%v / %m evaluations")
        if job.state == "done" and job.total == 0:  # every result came from the store
            self.bar.setRange(0, 1)
            self.bar.setFormat("stored results: nothing to compute")
            self.bar.setValue(1)
        elif job.state == "done":
            self.bar.setValue(self.bar.maximum())
        elif job.state == "cancelled":
            # The engine's own count at the cancel: progress ticks after the cancel are dropped,
            # so the bar alone would stop short of the number the title gives.
            self.bar.setRange(0, max(1, job.total))
            self.bar.setValue(min(job.done, job.total))
        self.eta.setText(message if job.state == "failed" else "")

    def preview_progress(self, name: str, done: int, total: int) -> None:
        """An Integrated Gradients preview's progress, shown while no job runs (a job's bar
        comes first); Cancel stops the preview then."""
        if self.running:
            return
        self._previewing = True
        self.title.setText(f"Previewing <b>{_escape(name)}</b>")
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(min(done, total))
        self.bar.setFormat("Integrated Gradients  %v / %m gradient rows")
        self.eta.setText("")
        self.cancel.setEnabled(True)

    def preview_ended(self, name: str, stopped: bool = False) -> None:
        if self.running or not self._previewing:
            return
        self._previewing = False
        self.title.setText(f"Preview {'stopped' if stopped else 'ready'}: <b>{_escape(name)}</b>")
        self.bar.setFormat("")
        self.bar.setValue(self.bar.minimum() if stopped else self.bar.maximum())
        self.cancel.setEnabled(False)

    def model_loading(self, name: str) -> None:
        """A model loads (seconds): say which, with a busy bar, unless a job's bar is showing."""
        self._loading = True
        if self.running:
            return
        short = name if len(name) <= 36 else f"{name[:17]}…{name[-18:]}"  # the bar keeps its room
        self.title.setText(f"Loading model <b>{_escape(short)}</b>…")
        self.title.setToolTip(name)
        self.bar.setRange(0, 0)  # busy: loading reports no steps
        self.bar.setFormat("")
        self.eta.setText("")

    def model_loaded(self, ready: bool) -> None:
        if not self._loading:
            return
        self._loading = False
        if self.running:
            return
        self.title.setText("Ready" if ready else "No model loaded")
        self.title.setToolTip("")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)

    def set_queue(self, names: list[str]) -> None:
        if not names:
            self.queue.setText("")
            self.queue.setToolTip("")
            return
        self.queue.setText(f"{len(names)} waiting")
        self.queue.setToolTip("Next: " + ", ".join(names))

    @property
    def running(self) -> bool:
        return self._job_id is not None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
