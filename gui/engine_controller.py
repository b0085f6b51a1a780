"""The GUI thread's side of the engine: one thread, a queue of jobs with ids, cancel, shutdown.

The queue lives here rather than in the worker so the window can show it, reorder nothing
by accident, and drop a waiting job without asking the busy thread. Only one job is handed
to the worker at a time; the next goes when the worker says the current one has ended.

Results are matched by job id: anything from a job that was cancelled or superseded (the
same image explained again) is dropped here, so late results never overwrite newer ones.
"""

from __future__ import annotations

import itertools
import time
from collections import deque

from PySide6.QtCore import QDeadlineTimer, QObject, Qt, QThread, Signal, Slot

from engine.jobs import CancelToken
from gui.engine_requests import (
    ExplainJob,
    ModelFailure,
    ModelInfo,
    ModelRequest,
    PredictRequest,
    PreviewJob,
)
from gui.engine_thread import EngineThread
from gui.engine_worker import EngineWorker
from gui.evaluation_job import EvaluationJob
from gui.sanity_job import SanityJob

SHUTDOWN_WAIT_MS = 60_000  # a model load cannot be interrupted; give it time to end


class EngineController(QObject):
    modelLoading = Signal(str)
    modelReady = Signal(object)  # ModelInfo
    modelFailed = Signal(object)  # ModelFailure
    preparing = Signal(bool)  # the explainers are warming up (first job waits for it)
    predictionsReady = Signal(int, object)  # image key, list[Prediction]
    predictionFailed = Signal(int, str)
    queueChanged = Signal()
    jobStarted = Signal(object)  # ExplainJob
    jobProgress = Signal(object)  # ExplainJob (done, total, stage updated)
    resultReady = Signal(object, object)  # ExplainJob, Explanation
    jobFinished = Signal(object)  # ExplainJob, any end state: look at job.state
    jobFailed = Signal(object, str)
    jobCancelled = Signal(object)
    metricsReady = Signal(object, str, object)  # ExplainJob, method, faithfulness dict
    stabilityReady = Signal(object, str, object)  # ExplainJob, method, engine.stability result
    previewReady = Signal(object, object)  # PreviewJob, Explanation (Grad-CAM or IG)
    previewFailed = Signal(object, str, str)  # PreviewJob, method ("" for the image), one-line message
    previewEnded = Signal(object)  # PreviewJob: the lane is done with it (ready, failed or cancelled)
    previewProgress = Signal(object, int, int)  # PreviewJob, IG rows done, total
    downloadProgress = Signal(object, object)
    downloadFinished = Signal(str)
    downloadFailed = Signal(str)
    downloadCancelled = Signal()
    evaluationStarted = Signal(object)  # EvaluationJob
    evaluationProgress = Signal(object)  # EvaluationJob (done, total updated)
    evaluationReady = Signal(object, object)  # EvaluationJob, engine.evaluate.EvaluationResult
    evaluationFailed = Signal(object, str)  # EvaluationJob, one-line message
    evaluationFinished = Signal(object)  # EvaluationJob, any end state: look at job.state
    sanityStarted = Signal(object)  # SanityJob
    sanityProgress = Signal(object)  # SanityJob (done, total, stage updated)
    sanityMethodReady = Signal(object, str)  # SanityJob, method (its result in job.results)
    sanityFinished = Signal(object)  # SanityJob, any end state: look at job.state
    storeCleared = Signal(int, str)  # stored results removed (-1: failed), one-line message

    # Requests to the worker: queued connections, so they run in the engine thread.
    _loadModel = Signal(object, int)
    _runJob = Signal(object)
    _servePredictions = Signal()
    _download = Signal(object)
    _runEvaluation = Signal(object)
    _runSanity = Signal(object)
    _setKeepResults = Signal(bool)
    _clearStored = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = EngineThread()  # not a plain QThread: see gui.engine_thread
        self._thread.setObjectName("engine")
        self._worker = EngineWorker()
        self._worker.moveToThread(self._thread)
        self._ids = itertools.count(1)
        self._queue: deque[ExplainJob] = deque()
        self._running: ExplainJob | None = None
        self._jobs: dict[int, ExplainJob] = {}
        self._previews: dict[int, PreviewJob] = {}  # waiting or running previews by id
        self._generation = 0
        self.model_state = "idle"  # idle | loading | ready | failed
        self.model_info: ModelInfo | None = None
        self.model_failure: ModelFailure | None = None
        self.model_request: ModelRequest | None = None
        self.warming_up = False
        self._download_token: CancelToken | None = None
        self._evaluation: EvaluationJob | None = None  # waiting for the engine or running on it
        self._sanity: SanityJob | None = None  # likewise, one at a time
        self._connect()

    def _connect(self) -> None:
        queued = Qt.ConnectionType.QueuedConnection
        w = self._worker
        self._loadModel.connect(w.load_model, queued)
        self._runJob.connect(w.run_job, queued)
        self._servePredictions.connect(w.serve_predictions, queued)
        self._download.connect(w.download_weights, queued)
        self._runEvaluation.connect(w.run_evaluation, queued)
        w.evaluationStarted.connect(self._on_evaluation_started, queued)
        w.evaluationProgress.connect(self._on_evaluation_progress, queued)
        w.evaluationFinished.connect(self._on_evaluation_finished, queued)
        w.evaluationCancelled.connect(self._on_evaluation_cancelled, queued)
        w.evaluationFailed.connect(self._on_evaluation_failed, queued)
        self._runSanity.connect(w.run_sanity, queued)
        self._setKeepResults.connect(w.set_keep_results, queued)
        self._clearStored.connect(w.clear_stored_results, queued)
        w.storeCleared.connect(self.storeCleared, queued)
        w.sanityStarted.connect(self._on_sanity_started, queued)
        w.sanityProgress.connect(self._on_sanity_progress, queued)
        w.sanityMethodReady.connect(self._on_sanity_method, queued)
        w.sanityFinished.connect(self._on_sanity_finished, queued)
        w.sanityCancelled.connect(self._on_sanity_cancelled, queued)
        w.sanityFailed.connect(self._on_sanity_failed, queued)
        w.modelLoading.connect(self.modelLoading, queued)
        w.modelLoaded.connect(self._on_model_loaded, queued)
        w.modelFailed.connect(self._on_model_failed, queued)
        w.preparing.connect(self._on_preparing, queued)
        w.predicted.connect(self._on_predicted, queued)
        w.predictFailed.connect(self.predictionFailed, queued)
        w.jobStarted.connect(self._on_job_started, queued)
        w.progress.connect(self._on_progress, queued)
        w.methodFinished.connect(self._on_method_finished, queued)
        w.jobFinished.connect(self._on_job_finished, queued)
        w.jobCancelled.connect(self._on_job_cancelled, queued)
        w.jobFailed.connect(self._on_job_failed, queued)
        w.metricsReady.connect(self._on_metrics, queued)
        w.stabilityReady.connect(self._on_stability, queued)
        w.previewReady.connect(self._on_preview_ready, queued)
        w.previewFailed.connect(self._on_preview_failed, queued)
        w.previewEnded.connect(self._on_preview_ended, queued)
        w.previewProgress.connect(self._on_preview_progress, queued)
        w.downloadProgress.connect(self.downloadProgress, queued)
        w.downloadFinished.connect(self._on_download_finished, queued)
        w.downloadFailed.connect(self._on_download_failed, queued)
        w.downloadCancelled.connect(self._on_download_cancelled, queued)

    # ------------------------------------------------------------------ public API

    @property
    def worker(self) -> EngineWorker:
        return self._worker

    @property
    def thread(self) -> QThread:
        return self._thread

    @property
    def running_job(self) -> ExplainJob | None:
        return self._running

    @property
    def waiting_jobs(self) -> list[ExplainJob]:
        return list(self._queue)

    @property
    def busy(self) -> bool:
        return (self._running is not None or bool(self._queue) or self._evaluation is not None
                or self._sanity is not None)

    def job(self, job_id: int) -> ExplainJob | None:
        return self._jobs.get(job_id)

    def start(self, request: ModelRequest) -> None:
        if not self._thread.isRunning():
            self._thread.start()
        self.load_model(request)

    def load_model(self, request: ModelRequest) -> None:
        self._generation += 1
        self.model_request = request
        self.model_state = "loading"
        self.model_info = None
        self.model_failure = None
        self._loadModel.emit(request, self._generation)

    def set_keep_results(self, keep: bool) -> None:
        """Store results between launches, or not (from the next job on)."""
        self._setKeepResults.emit(bool(keep))

    def clear_stored_results(self) -> None:
        """Forget every stored result; ``storeCleared`` says how many."""
        self._clearStored.emit()

    def predict(self, image_key: int, image) -> None:
        self._worker.enqueue_prediction(PredictRequest(image_key, image))
        self._servePredictions.emit()

    def submit(self, image_key: int, image, methods, shap: dict, lime: dict, classes: int,
               ig: dict | None = None, faithfulness_steps: int = 0,
               background: dict | None = None, stability_runs: int = 0,
               score_preview: tuple[str, ...] = ()) -> ExplainJob:
        """Queue a job; an earlier job for the same image is superseded (cancelled)."""
        self.cancel_image(image_key)
        job = ExplainJob(next(self._ids), image_key, image, tuple(methods), dict(shap), dict(lime),
                         int(classes), ig=dict(ig or {}), faithfulness_steps=int(faithfulness_steps),
                         background=dict(background or {}), stability_runs=int(stability_runs),
                         score_preview=tuple(score_preview))
        job.total = job.planned_evaluations()
        self._jobs[job.job_id] = job
        self._queue.append(job)
        self.queueChanged.emit()
        self._dispatch()
        return job

    def submit_preview(self, image_key: int, image, classes: int, gradcam: bool = True,
                       ig: dict | None = None) -> PreviewJob:
        """A preview in the priority lane: Grad-CAM, then Integrated Gradients when ``ig``
        (``IntegratedGradientsParams`` keywords) is given. It runs before, or between batches
        of, any explain job, and no job's cancel touches it. A newer preview of the same
        image replaces a waiting one."""
        self.cancel_preview(image_key)
        job = PreviewJob(next(self._ids), image_key, image, int(classes), generation=self._generation,
                         gradcam=bool(gradcam), ig=dict(ig) if ig is not None else None)
        self._previews[job.job_id] = job
        self._worker.enqueue_preview(job)
        self._servePredictions.emit()
        return job

    def preview_pending(self, image_key: int, method: str | None = None) -> bool:
        """A preview of the image (that computes ``method``, if given) is waiting or running."""
        return any(p.image_key == image_key and (method is None or method in p.methods)
                   for p in self._previews.values())

    @property
    def previews_pending(self) -> bool:
        return bool(self._previews)

    def previews_pending_for(self, method: str) -> bool:
        """True while a waiting or running preview will compute ``method``."""
        return any(method in p.methods for p in self._previews.values())

    def cancel_preview(self, image_key: int) -> None:
        for job in [p for p in self._previews.values() if p.image_key == image_key]:
            job.cancel.cancel()
            self._previews.pop(job.job_id, None)
            self.previewEnded.emit(job)  # now: the lane's own word on it is dropped

    def cancel_previews(self, method: str | None = None) -> None:
        """Every waiting or running preview (that computes ``method``, if given)."""
        for key in {p.image_key for p in self._previews.values() if method is None or method in p.methods}:
            self.cancel_preview(key)

    def cancel(self, job_id: int) -> None:
        job = self._jobs.get(job_id)
        if job is None or job.finished:
            return
        # Set from this thread on purpose: the worker checks the token between batches.
        job.cancel.cancel()
        if job in self._queue:
            self._queue.remove(job)
            self._end(job, "cancelled")
            self.jobCancelled.emit(job)
            self.jobFinished.emit(job)
            self.queueChanged.emit()

    def cancel_current(self) -> bool:
        if self._running is None:
            return False
        self.cancel(self._running.job_id)
        return True

    def cancel_image(self, image_key: int) -> None:
        for job in [*self._queue, *([self._running] if self._running else [])]:
            if job.image_key == image_key:
                self.cancel(job.job_id)

    def forget_image(self, image_key: int) -> None:
        """The image was removed: cancel its jobs and drop its waiting prediction request."""
        self.cancel_image(image_key)
        self.cancel_preview(image_key)
        self._worker.forget_prediction(image_key)

    def cancel_all(self) -> None:
        self.cancel_evaluation()
        self.cancel_sanity()
        self.cancel_previews()
        for job in list(self._queue):
            self.cancel(job.job_id)
        self.cancel_current()

    def download_weights(self) -> CancelToken:
        self._download_token = CancelToken()
        self._download.emit(self._download_token)
        return self._download_token

    def cancel_download(self) -> None:
        if self._download_token is not None:
            self._download_token.cancel()

    def shutdown(self) -> None:
        """Cancel, quit, wait: the window calls this when it closes."""
        self.cancel_all()
        self.cancel_download()
        self._worker.stop()
        if self._thread.isRunning():
            self._thread.quit()
            self._thread.wait(QDeadlineTimer(SHUTDOWN_WAIT_MS))

    # ------------------------------------------------------------------ queue

    def _dispatch(self) -> None:
        if self._running is not None or self.model_state != "ready":
            return
        if self._evaluation is not None:  # one engine lane: waiting explanations go after it
            self._start_evaluation()
            return
        if self._sanity is not None:  # the same for a sanity check
            self._start_sanity()
            return
        if not self._queue:
            return
        job = self._queue.popleft()
        job.state = "running"
        self._running = job
        self._runJob.emit(job)
        self.queueChanged.emit()

    def _end(self, job: ExplainJob, state: str) -> None:
        job.state = state
        if self._running is job:
            self._running = None
        self._jobs.pop(job.job_id, None)

    def _current(self, job_id: int) -> ExplainJob | None:
        """The running job with this id, or None when it is stale (cancelled, superseded)."""
        job = self._running
        return job if job is not None and job.job_id == job_id else None

    # ------------------------------------------------------------------ worker signals

    @Slot(object)
    def _on_model_loaded(self, info: ModelInfo) -> None:
        if info.generation != self._generation:
            return  # a newer load was asked for meanwhile
        self.model_state = "ready"
        self.model_info = info
        self.warming_up = True  # the worker warms the explainers up after every load
        self.modelReady.emit(info)
        self._dispatch()

    @Slot(bool)
    def _on_preparing(self, active: bool) -> None:
        self.warming_up = active
        self.preparing.emit(active)

    @Slot(object)
    def _on_model_failed(self, failure: ModelFailure) -> None:
        self.model_failure = failure
        if failure.previous is not None:
            # The engine kept the model it had: carry on with it (``model_request`` stays the
            # one that failed, so choosing a weights file retries what the person asked for).
            self.model_state = "ready"
            self.model_info = failure.previous
            self.modelFailed.emit(failure)
            self._dispatch()
            return
        self.model_state = "failed"
        self.modelFailed.emit(failure)

    @Slot(int, int, object)
    def _on_predicted(self, image_key: int, generation: int, predictions) -> None:
        if generation == self._generation:
            self.predictionsReady.emit(image_key, predictions)

    @Slot(int)
    def _on_job_started(self, job_id: int) -> None:
        job = self._current(job_id)
        if job is not None:
            job.started = time.monotonic()
            self.jobStarted.emit(job)

    @Slot(int, int, int, str)
    def _on_progress(self, job_id: int, done: int, total: int, stage: str) -> None:
        job = self._current(job_id)
        if job is None or job.cancel.cancelled:
            return
        job.done, job.total, job.stage = done, total, stage
        self.jobProgress.emit(job)

    @Slot(int, object)
    def _on_method_finished(self, job_id: int, explanation) -> None:
        job = self._current(job_id)
        if job is None or job.cancel.cancelled:
            return  # dropped: cancelled or superseded (the worker stops waiting on cancel)
        # Listeners call ``job.shown.set()`` once the result is drawn (or at once if it is
        # not on screen); the engine resumes then, or after a short timeout.
        self.resultReady.emit(job, explanation)

    @Slot(int, str, object)
    def _on_metrics(self, job_id: int, method: str, scores) -> None:
        job = self._current(job_id)
        if job is None or job.cancel.cancelled:
            return
        self.metricsReady.emit(job, method, scores)

    @Slot(int, str, object)
    def _on_stability(self, job_id: int, method: str, result) -> None:
        job = self._current(job_id)
        if job is None or job.cancel.cancelled:
            return
        self.stabilityReady.emit(job, method, result)

    @Slot(int, object)
    def _on_preview_ready(self, job_id: int, explanation) -> None:
        job = self._previews.get(job_id)
        if job is None or job.cancel.cancelled or job.generation != self._generation:
            if job is not None:
                job.shown.set()
            return
        # Listeners call ``job.shown.set()`` once it is drawn (see ExplainJob.shown).
        self.previewReady.emit(job, explanation)

    @Slot(int, str, str)
    def _on_preview_failed(self, job_id: int, method: str, message: str) -> None:
        job = self._previews.get(job_id)
        if job is not None and job.generation == self._generation:
            self.previewFailed.emit(job, method, message)

    @Slot(int, int, int)
    def _on_preview_progress(self, job_id: int, done: int, total: int) -> None:
        job = self._previews.get(job_id)
        if job is not None and not job.cancel.cancelled:
            self.previewProgress.emit(job, done, total)

    @Slot(int)
    def _on_preview_ended(self, job_id: int) -> None:
        job = self._previews.pop(job_id, None)  # pending until here: a job then reuses its IG
        if job is not None:
            self.previewEnded.emit(job)

    @Slot(int)
    def _on_job_finished(self, job_id: int) -> None:
        job = self._current(job_id)
        if job is None:
            return
        if job.cancel.cancelled:  # cancelled after its last batch: still a cancel
            self._on_job_cancelled(job_id, job.done, job.total)
            return
        job.done = job.total
        self._end(job, "done")
        self.jobFinished.emit(job)
        self._dispatch()
        self.queueChanged.emit()

    @Slot(int, int, int)
    def _on_job_cancelled(self, job_id: int, done: int, total: int) -> None:
        job = self._current(job_id)
        if job is None:
            return
        job.done, job.total = done, total
        self._end(job, "cancelled")
        self.jobCancelled.emit(job)
        self.jobFinished.emit(job)
        self._dispatch()
        self.queueChanged.emit()

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        job = self._current(job_id)
        if job is None:
            return
        self._end(job, "failed")
        self.jobFailed.emit(job, message)
        self.jobFinished.emit(job)
        self._dispatch()
        self.queueChanged.emit()

    # ------------------------------------------------------------------ evaluation

    @property
    def evaluation(self) -> EvaluationJob | None:
        """The labelled-folder evaluation waiting for the engine or running on it."""
        return self._evaluation

    def submit_evaluation(self, folder: str, batch_size: int = 32) -> EvaluationJob:
        """Evaluate a labelled folder. It replaces an earlier evaluation, waits for the running
        explanation (the engine runs one thing at a time) and goes before waiting ones, which
        carry on after it: the person is looking at the evaluation and it takes seconds."""
        self.cancel_evaluation()
        job = EvaluationJob(next(self._ids), str(folder), int(batch_size))
        self._evaluation = job
        if self.model_state == "failed":
            self._end_evaluation(job, "failed", message="no model is loaded")
            return job
        self._dispatch()
        self.queueChanged.emit()
        return job

    def cancel_evaluation(self) -> bool:
        job = self._evaluation
        if job is None:
            return False
        job.cancel.cancel()  # the worker checks it between batches
        self._end_evaluation(job, "cancelled")
        return True

    def _start_evaluation(self) -> None:
        job = self._evaluation
        if job is not None and job.state == "queued":
            job.state = "running"
            self._runEvaluation.emit(job)

    def _end_evaluation(self, job: EvaluationJob, state: str, result=None, message: str = "") -> None:
        job.state, job.message = state, message
        if self._evaluation is job:
            self._evaluation = None
        if state == "done":
            self.evaluationReady.emit(job, result)
        elif state == "failed":
            self.evaluationFailed.emit(job, message)
        self.evaluationFinished.emit(job)
        self._dispatch()
        self.queueChanged.emit()

    def _current_evaluation(self, job_id: int) -> EvaluationJob | None:
        job = self._evaluation
        return job if job is not None and job.job_id == job_id and not job.cancel.cancelled else None

    @Slot(int)
    def _on_evaluation_started(self, job_id: int) -> None:
        job = self._current_evaluation(job_id)
        if job is not None:
            job.started = time.monotonic()
            self.evaluationStarted.emit(job)

    @Slot(int, int, int)
    def _on_evaluation_progress(self, job_id: int, done: int, total: int) -> None:
        job = self._current_evaluation(job_id)
        if job is not None:
            job.done, job.total = done, total
            self.evaluationProgress.emit(job)

    @Slot(int, object)
    def _on_evaluation_finished(self, job_id: int, result) -> None:
        job = self._current_evaluation(job_id)
        if job is not None:
            job.done = job.total = result.total + len(result.skipped)
            self._end_evaluation(job, "done", result=result)

    @Slot(int)
    def _on_evaluation_cancelled(self, job_id: int) -> None:
        job = self._current_evaluation(job_id)
        if job is not None:  # cancelled by the engine itself (normally ended here already)
            self._end_evaluation(job, "cancelled")

    @Slot(int, str)
    def _on_evaluation_failed(self, job_id: int, message: str) -> None:
        job = self._current_evaluation(job_id)
        if job is not None:
            self._end_evaluation(job, "failed", message=message)

    # ------------------------------------------------------------------ sanity check

    @property
    def sanity(self) -> SanityJob | None:
        """The sanity check waiting for the engine or running on it."""
        return self._sanity

    def submit_sanity(self, image_key: int, explanations: list, groups: int = 5) -> SanityJob:
        """Check these explanations (engine.sanity). Like an evaluation: it replaces an
        earlier check, waits for the running work and goes before waiting explanations."""
        self.cancel_sanity()
        job = SanityJob(next(self._ids), image_key, list(explanations), int(groups))
        self._sanity = job
        if self.model_state == "failed":
            self._end_sanity(job, "failed", message="no model is loaded")
            return job
        self._dispatch()
        self.queueChanged.emit()
        return job

    def cancel_sanity(self) -> bool:
        job = self._sanity
        if job is None:
            return False
        job.cancel.cancel()  # the worker checks it between batches, then restores the weights
        self._end_sanity(job, "cancelled")
        return True

    def _start_sanity(self) -> None:
        job = self._sanity
        if job is not None and job.state == "queued":
            job.state = "running"
            self._runSanity.emit(job)

    def _end_sanity(self, job: SanityJob, state: str, message: str = "") -> None:
        job.state, job.message = state, message
        if self._sanity is job:
            self._sanity = None
        self.sanityFinished.emit(job)
        self._dispatch()
        self.queueChanged.emit()

    def _current_sanity(self, job_id: int) -> SanityJob | None:
        job = self._sanity
        return job if job is not None and job.job_id == job_id and not job.cancel.cancelled else None

    @Slot(int)
    def _on_sanity_started(self, job_id: int) -> None:
        job = self._current_sanity(job_id)
        if job is not None:
            self.sanityStarted.emit(job)

    @Slot(int, int, int, str)
    def _on_sanity_progress(self, job_id: int, done: int, total: int, stage: str) -> None:
        job = self._current_sanity(job_id)
        if job is not None:
            job.done, job.total, job.stage = done, total, stage
            self.sanityProgress.emit(job)

    @Slot(int, str, object)
    def _on_sanity_method(self, job_id: int, method: str, result) -> None:
        job = self._current_sanity(job_id)
        if job is not None:
            job.results[method] = result
            self.sanityMethodReady.emit(job, method)

    @Slot(int)
    def _on_sanity_finished(self, job_id: int) -> None:
        job = self._current_sanity(job_id)
        if job is not None:
            job.done = job.total = max(job.total, 1)
            self._end_sanity(job, "done")

    @Slot(int)
    def _on_sanity_cancelled(self, job_id: int) -> None:
        job = self._current_sanity(job_id)
        if job is not None:
            self._end_sanity(job, "cancelled")

    @Slot(int, str)
    def _on_sanity_failed(self, job_id: int, message: str) -> None:
        job = self._current_sanity(job_id)
        if job is not None:
            self._end_sanity(job, "failed", message=message)

    @Slot(str)
    def _on_download_finished(self, path: str) -> None:
        self._download_token = None
        self.downloadFinished.emit(path)

    @Slot(str)
    def _on_download_failed(self, message: str) -> None:
        self._download_token = None
        self.downloadFailed.emit(message)

    @Slot()
    def _on_download_cancelled(self) -> None:
        self._download_token = None
        self.downloadCancelled.emit()
