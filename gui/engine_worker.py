"""The engine thread's side: owns the model, runs one job at a time, talks only in signals.

``EngineWorker`` is moved onto one long-lived ``QThread`` (see ``engine_controller``). Keras
models are not safe to call from several threads, and loading ResNet-50 takes seconds, so the
model lives here for the whole session. Keras, the explainers and the backend are imported
inside the slots: importing them at module level would delay the window by seconds.

Every slot catches its own exceptions and turns them into a one-line error signal, so a
failing job never takes the thread down.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import deque

from PySide6.QtCore import QObject, Signal, Slot

from engine.errors import Cancelled, UntrustedModelError, WeightsMissingError
from engine.jobs import CancelToken
from engine.pipeline import Hooks
from gui.engine_requests import (
    PREDICTION_COUNT,
    ExplainJob,
    ModelFailure,
    ModelInfo,
    ModelRequest,
    PredictRequest,
    PreviewJob,
    ig_matches,
)
from gui.model_background_cache import BackgroundCache

PROGRESS_INTERVAL_S = 0.08  # at most ~12 progress signals a second reach the GUI
RESULT_HANDOFF_S = 1.0  # the longest the engine waits for the GUI to draw a result
PREVIEWS_KEPT = 32  # images whose previews are kept for a later job (a few tens of MB at most)
# The IG preview answers predictions and newer Grad-CAM previews between its gradient
# batches, so one batch is the longest they wait: batches are sized to take about this long.
PREVIEW_BATCH_S = 0.3


def one_line(exc: BaseException) -> str:
    """The first line of an exception, for status bars and banners.

    Engine errors and bad settings (ValueError) are written for users and shown as they are;
    anything else keeps its type name, so a bug report can be searched for.
    """
    from engine.errors import EngineError

    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if isinstance(exc, (EngineError, ValueError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Throttle:
    """When a progress signal is due: at most every ``PROGRESS_INTERVAL_S``, and always on
    the last step, so the GUI thread is not flooded between model batches."""

    def __init__(self) -> None:
        self._last = 0.0

    def due(self, final: bool) -> bool:
        now = time.monotonic()
        if final or now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            return True
        return False


class _BatchPacer:
    """Sizes the IG preview's gradient batches to take about ``PREVIEW_BATCH_S`` each, from
    the seconds per row its earlier batches took (2 rows until it has timed one): a dropped
    image's predictions then wait a fraction of a second, on a laptop CPU as on a GPU."""

    FIRST, MOST = 2, 32

    def __init__(self) -> None:
        self._row_s: float | None = None
        self._since = 0.0
        self._rows_before = 0

    def batch_size(self) -> int:
        if self._row_s is None:
            return self.FIRST
        return max(1, min(self.MOST, int(PREVIEW_BATCH_S / self._row_s)))

    def resume(self, done: int) -> None:
        """The clock starts (again) for the rows after ``done``."""
        self._since = time.monotonic()
        self._rows_before = done

    def batch_done(self, done: int) -> None:
        rows = done - self._rows_before
        if rows > 0:
            sample = (time.monotonic() - self._since) / rows
            self._row_s = sample if self._row_s is None else 0.5 * (self._row_s + sample)


class _JobProgress:
    """Passes the pipeline's progress of one job to the window, throttled, and remembers the
    last count (what a cancel reports)."""

    def __init__(self, worker: "EngineWorker", job: ExplainJob):
        self._worker = worker
        self.job = job
        self.cancel_reported = False  # jobCancelled already sent (see EngineWorker._report_cancel)
        self.done = 0
        self.total = job.total or job.planned_evaluations()
        self._throttle = _Throttle()

    def __call__(self, done: int, total: int, stage: str) -> None:
        # Called from the engine thread, inside the pipeline, between model batches.
        self.done, self.total = done, max(total, done)
        if self._throttle.due(done >= total):
            self._worker.progress.emit(self.job.job_id, self.done, self.total, stage)


class EngineWorker(QObject):
    modelLoading = Signal(str)  # a short description of what is loading
    modelLoaded = Signal(object)  # ModelInfo
    modelFailed = Signal(object)  # ModelFailure
    preparing = Signal(bool)  # True while the explainers warm up after a model load
    predicted = Signal(int, int, object)  # image key, model generation, list[Prediction]
    predictFailed = Signal(int, str)  # image key, message
    jobStarted = Signal(int)
    progress = Signal(int, int, int, str)  # job id, evaluations done, total, stage
    methodFinished = Signal(int, object)  # job id, engine.jobs.Explanation
    jobFinished = Signal(int)
    jobCancelled = Signal(int, int, int)  # job id, evaluations done, total
    jobFailed = Signal(int, str)  # job id, one-line message
    metricsReady = Signal(int, str, object)  # job id, method, engine.metrics.faithfulness dict
    stabilityReady = Signal(int, str, object)  # job id, method, engine.stability.rerun_stability dict
    previewReady = Signal(int, object)  # preview job id, Explanation (Grad-CAM or IG)
    previewFailed = Signal(int, str, str)  # preview job id, method, one-line message
    previewEnded = Signal(int)  # preview job id: the lane is done with it (any outcome)
    previewProgress = Signal(int, int, int)  # preview job id, IG rows done, total
    downloadProgress = Signal(object, object)  # bytes done, bytes total (0: unknown)
    downloadFinished = Signal(str)  # path of the weights file
    downloadFailed = Signal(str)
    downloadCancelled = Signal()
    evaluationStarted = Signal(int)  # evaluation job id
    evaluationProgress = Signal(int, int, int)  # job id, images done, total
    evaluationFinished = Signal(int, object)  # job id, engine.evaluate.EvaluationResult
    evaluationCancelled = Signal(int)
    evaluationFailed = Signal(int, str)  # job id, one-line message
    sanityStarted = Signal(int)  # sanity job id
    sanityProgress = Signal(int, int, int, str)  # job id, evaluations done, total, stage
    sanityMethodReady = Signal(int, str, object)  # job id, method, engine.sanity.sanity_check result
    sanityFinished = Signal(int)
    sanityCancelled = Signal(int)
    sanityFailed = Signal(int, str)  # job id, one-line message
    storeCleared = Signal(int, str)  # results removed (-1: failed), one-line message

    def __init__(self) -> None:
        super().__init__()
        self._classifier = None
        self._info: ModelInfo | None = None  # describes self._classifier
        self._generation = 0
        self._background = BackgroundCache()  # background-set SHAP images, per folder and model
        # Prediction requests are handed over through a lock, not a queued slot, so they can
        # be answered between batches of a running job instead of waiting until it ends.
        self._lock = threading.Lock()
        self._pending: deque[PredictRequest] = deque()
        self._previews: deque[PreviewJob] = deque()  # waiting for their quick step (Grad-CAM)
        self._slow_previews: deque = deque()  # (PreviewJob, image, targets) waiting for IG
        self._preview_results: dict = {}  # image key -> {method: its last preview} (engine thread only)
        self._serving = False  # True while a preview runs (no nesting)
        self._running: _JobProgress | None = None  # the job this thread is inside, if any
        self._warming = False  # True during the warm-up: IG previews wait until it has traced IG
        self._ig_pacer = _BatchPacer()
        # The result store (engine.store), opened here on the engine thread on first use:
        # an SQLite connection belongs to the thread that opened it.
        self._keep_results = True
        self._store = None
        self._stored = None  # engine.stored_run.StoredPipeline for the loaded model
        # Set from the GUI thread when the app closes: cuts the warm-up short between batches.
        self._stopping = CancelToken()

    def stop(self) -> None:
        """Thread-safe: ask long work that is not a job (the warm-up) to end soon."""
        self._stopping.cancel()

    # ------------------------------------------------------------------ model

    @Slot(object, int)
    def load_model(self, request: ModelRequest, generation: int) -> None:
        # The model in use stays until the new one has loaded: a file that fails to open
        # leaves the person with the model they had, not with none.
        previous, previous_info = self._classifier, self._info
        self._generation = generation
        self.modelLoading.emit(request.model)
        try:
            from engine.models import ModelSpec, load_classifier
            from gui.model_info import describe_classifier

            classifier = load_classifier(ModelSpec(
                model=request.model, weights=request.weights, labels=request.labels,
                preprocess=request.preprocess, trust=request.trust, runtime=request.runtime,
                precision=request.precision, layout=request.layout,
                custom_objects=request.custom_objects))
            classifier.warm_up()  # compile now, so the first dropped image predicts at once
            info = describe_classifier(classifier, generation)
        except WeightsMissingError as exc:
            self.modelFailed.emit(ModelFailure(one_line(exc), exc.filename, exc.folder,
                                               previous=previous_info))
            return
        except Exception as exc:  # noqa: BLE001 - any failure is reported, the thread lives on
            self.modelFailed.emit(ModelFailure(one_line(exc), needs_trust=isinstance(exc, UntrustedModelError),
                                               previous=previous_info, detail=getattr(exc, "detail", ""),
                                               wrong_weights=getattr(exc, "reason", "")))
            return
        self._classifier, self._info = classifier, info
        self._stored = None  # its fingerprint is the new model's
        self._background.clear()
        self._preview_results.clear()  # previews of the old model
        self._ig_pacer = _BatchPacer()  # a new model has its own speed
        del previous  # the warm-up below takes seconds: let the old model go now
        self.modelLoaded.emit(info)
        self.serve_predictions()
        self._warm_up_explainers()

    def _warm_up_explainers(self) -> None:
        """Run each explainer once, tiny, at the model's input size, before any real job.

        Their first use imports shap, lime and OpenCV, loads shap's helpers and the Telea
        kernel from numba's cache (compiles them, the first time) and builds the masker's
        partition tree for this image size: seconds of work that holds the GIL in long
        stretches. Paying it here keeps those stalls out of the person's first job
        (the window stays smooth while it explains). Prediction requests are still answered
        between batches; a failure here is ignored, since a real job reports its own.
        """
        classifier = self._classifier
        self.preparing.emit(True)
        self._warming = True
        try:
            from engine.pipeline import warm_up

            warm_up(classifier, between_batches=self.serve_predictions, cancel=self._stopping)
        except Exception:  # noqa: BLE001 - warm-up only (Cancelled included); jobs report their own
            pass
        finally:
            # TensorFlow, Keras and numba leave millions of long-lived objects. A full garbage
            # collection walks them all while holding the GIL (0.5 s and more here), freezing
            # the window mid-job; frozen objects are skipped by later collections.
            gc.freeze()
            self.preparing.emit(False)
            self._warming = False
            self.serve_predictions()  # IG previews held back until IG was traced

    # ------------------------------------------------------------------ predictions

    def enqueue_prediction(self, request: PredictRequest) -> None:
        """Called from the GUI thread; pair it with a queued call to ``serve_predictions``."""
        with self._lock:
            self._pending.append(request)

    def forget_prediction(self, image_key: int) -> None:
        with self._lock:
            self._pending = deque(r for r in self._pending if r.image_key != image_key)

    def enqueue_preview(self, job: PreviewJob) -> None:
        """Called from the GUI thread; pair it with a queued call to ``serve_predictions``."""
        with self._lock:
            self._previews.append(job)

    @Slot()
    def serve_predictions(self) -> None:
        """Answer waiting predictions, then waiting previews (the priority lane): every
        waiting Grad-CAM first (about one forward pass each), then IG, one image at a time."""
        self._serve_predictions()
        if self._serving:
            return
        self._serving = True
        try:
            while self._classifier is not None:
                self._serve_quick_previews()
                with self._lock:
                    if not self._slow_previews or self._warming:
                        return
                    job, image, targets = self._slow_previews.popleft()
                self._run_ig_preview(job, image, targets)
                self._serve_predictions()
        finally:
            self._serving = False

    def _serve_quick_previews(self) -> None:
        while True:
            with self._lock:
                if not self._previews or self._classifier is None:
                    return
                job = self._previews.popleft()
            self._run_preview(job)
            self._serve_predictions()

    def _run_preview(self, job: PreviewJob) -> None:
        """A preview's quick step: its top classes and Grad-CAM. IG, if asked for, waits in
        ``_slow_previews`` so that a newer image's Grad-CAM never queues behind it."""
        slow = False
        try:
            if job.cancel.cancelled or job.generation != self._generation:
                return
            from engine import explain

            classifier = self._classifier
            try:
                image, _, targets = self._top_classes(job.image, job.classes)
            except Exception as exc:  # noqa: BLE001 - the image's prediction reports it already
                self.previewFailed.emit(job.job_id, "", one_line(exc))
                return
            if job.gradcam:
                try:
                    result = explain.run("gradcam", image, classifier, targets, cancel=job.cancel)
                except Cancelled:
                    return
                except Exception as exc:  # noqa: BLE001 - e.g. a model without a convolutional layer
                    self.previewFailed.emit(job.job_id, "gradcam", one_line(exc))
                else:
                    self._keep_preview(job.image_key, result)
                    self.previewReady.emit(job.job_id, result)
                    self._wait_until_shown(job)
            if job.ig is not None and not job.cancel.cancelled:
                with self._lock:
                    self._slow_previews.append((job, image, targets))
                slow = True
        finally:
            if not slow:
                self.previewEnded.emit(job.job_id)

    def _run_ig_preview(self, job: PreviewJob, image, targets) -> None:
        """A preview's slow step: Integrated Gradients with the panel's settings."""
        try:
            if job.cancel.cancelled or job.generation != self._generation:
                return
            from engine import explain
            from engine.explain.integrated_gradients import IntegratedGradientsParams

            throttle = _Throttle()
            pacer = self._ig_pacer

            def between_batches(done: int, total: int, stage: str) -> None:
                pacer.batch_done(done)
                if throttle.due(done >= total):
                    self.previewProgress.emit(job.job_id, done, total)
                # IG takes seconds: predictions and newer images' Grad-CAM go in between.
                if self._running is not None and self._running.job.cancel.cancelled:
                    self._report_cancel(self._running)
                self._serve_predictions()
                self._serve_quick_previews()
                pacer.resume(done)  # time spent serving others is not the gradient's

            params = IntegratedGradientsParams(**{**job.ig, "batch_size": pacer.batch_size()})
            pacer.resume(0)
            try:
                result = explain.run("ig", image, self._classifier, targets, params,
                                     progress=between_batches, cancel=job.cancel)
            except Cancelled:
                return
            except Exception as exc:  # noqa: BLE001 - one line; the lane lives on
                self.previewFailed.emit(job.job_id, "ig", one_line(exc))
                return
            self._keep_preview(job.image_key, result)
            self.previewReady.emit(job.job_id, result)
            self._wait_until_shown(job)
        finally:
            self.previewEnded.emit(job.job_id)

    def _top_classes(self, raw, classes: int):
        """``(image, probabilities, targets)``: the image fitted to the model, the model's
        probabilities for it, and its top ``classes`` (at least one, at most all it has)."""
        from engine.images import fit_to_model

        classifier = self._classifier
        image = fit_to_model(raw, classifier.input_size)
        probabilities = classifier.predict(image[None])[0]
        count = max(1, min(classes, classifier.num_classes))
        return image, probabilities, [p.index for p in classifier.top_k(probabilities, count)]

    def _keep_preview(self, image_key: int, result) -> None:
        """Kept for a later job of the same image: scored (Grad-CAM) or reused (IG)."""
        kept = self._preview_results.pop(image_key, {})
        kept[result.method] = result
        self._preview_results[image_key] = kept  # newest last
        while len(self._preview_results) > PREVIEWS_KEPT:
            self._preview_results.pop(next(iter(self._preview_results)))

    def _preview_of(self, image_key: int, method: str, image, targets):
        """This image's kept preview by ``method`` if it shows exactly these classes of this
        exact model input, else None."""
        import numpy as np

        preview = self._preview_results.get(image_key, {}).get(method)
        if preview is None or list(preview.classes) != list(targets) or not np.array_equal(preview.image, image):
            return None
        return preview

    def _ig_preview_for(self, job: ExplainJob, image, targets):
        """The image's IG preview when it is what the job would compute (same classes and
        IG settings), so the job does not do the same work twice. A preview still waiting
        in the lane runs first: the same work either way, and it shows on screen sooner."""
        with self._lock:
            waiting = (any(p.image_key == job.image_key and p.ig is not None for p in self._previews)
                       or any(p.image_key == job.image_key for p, _, _ in self._slow_previews))
        if waiting:
            self.serve_predictions()
            job.cancel.raise_if_cancelled()
        preview = self._preview_of(job.image_key, "ig", image, targets)
        return preview if preview is not None and ig_matches(preview, job.ig) else None

    def _serve_predictions(self) -> None:
        if self._classifier is None:
            return  # answered once a model has loaded
        while True:
            with self._lock:
                if not self._pending:
                    return
                request = self._pending.popleft()
            try:
                from engine.images import fit_to_model

                image = fit_to_model(request.image, self._classifier.input_size)
                probabilities = self._classifier.predict(image[None])[0]
                top = self._classifier.top_k(probabilities, min(PREDICTION_COUNT, self._classifier.num_classes))
            except Exception as exc:  # noqa: BLE001
                self.predictFailed.emit(request.image_key, one_line(exc))
                continue
            self.predicted.emit(request.image_key, self._generation, top)

    # ------------------------------------------------------------------ explanations

    @Slot(object)
    def run_job(self, job: ExplainJob) -> None:
        """Run one job through the engine's pipeline (engine.pipeline.run, with the result
        store in front); this only forwards what the pipeline reports to the window."""
        tracker = _JobProgress(self, job)
        if job.cancel.cancelled:
            self.jobCancelled.emit(job.job_id, 0, tracker.total)
            return
        if self._classifier is None:
            self.jobFailed.emit(job.job_id, "the model is not loaded")
            return
        self.jobStarted.emit(job.job_id)
        self._running = tracker
        try:
            params = {}
            if "shap-gradient" in job.methods:
                params["shap-gradient"] = self._background_params(job, tracker)
            self._run_pipeline(job.request(params), tracker, job.cancel, self._job_hooks(job))
        except Cancelled:
            self._report_cancel(tracker)
            return
        except Exception as exc:  # noqa: BLE001 - reported as one line; the thread lives on
            self.jobFailed.emit(job.job_id, one_line(exc))
            return
        finally:
            self._running = None
            self.serve_predictions()
        self.jobFinished.emit(job.job_id)

    def _job_hooks(self, job: ExplainJob) -> Hooks:
        """What the window does between the pipeline's stages: show each result (and wait,
        briefly, until it is drawn), answer predictions and previews between model batches,
        and hand over previews that already computed (IG) or show (to be scored) a map."""
        emitted = []

        def predicted(predictions) -> None:
            # The job predicts anyway; sharing it means the panel never waits on a job.
            self.predicted.emit(job.image_key, self._generation, predictions[:PREDICTION_COUNT])

        def finished(kind: str, method: str, value) -> None:
            if kind == "explain":
                if method in job.methods:  # a supplied preview is on screen already
                    self.methodFinished.emit(job.job_id, value)
                    emitted.append(method)
            elif kind == "score":
                self.metricsReady.emit(job.job_id, method, value)
                emitted.append(method)
            elif kind == "stability":
                self.stabilityReady.emit(job.job_id, method, value)
                emitted.append(method)

        def shown() -> None:
            if emitted:
                emitted.clear()
                self._wait_until_shown(job)

        def reuse(method: str, image, targets):
            if method in job.methods:
                return self._ig_preview_for(job, image, targets) if method == "ig" else None
            return self._preview_of(job.image_key, method, image, targets)  # a preview to score

        return Hooks(finished=finished, shown=shown, between_batches=self.serve_predictions,
                     reuse=reuse, predicted=predicted)

    def _run_pipeline(self, request, progress, cancel, hooks) -> None:
        """``engine.pipeline.run``, with this user's result store in front while results are
        kept: the model's fingerprint (a hash of its weights) is computed once per model, and
        only then."""
        if not self._keep_results:
            from engine import pipeline

            pipeline.run(request, self._classifier, progress, cancel, hooks)
            return
        from engine.stored_run import StoredPipeline, default_store

        if self._store is None:
            self._store = default_store()
        if self._stored is None or self._stored.classifier is not self._classifier:
            self._stored = StoredPipeline(self._store, self._classifier)
        self._stored.run(request, progress=progress, cancel=cancel, hooks=hooks)

    @Slot(bool)
    def set_keep_results(self, keep: bool) -> None:
        """Whether results are stored between launches (Explain ▸ Keep results between
        launches); takes effect at the next job."""
        if keep != self._keep_results:
            self._keep_results = keep
            self._close_store()

    @Slot()
    def clear_stored_results(self) -> None:
        """Forget every stored result (Explain ▸ Clear stored results…)."""
        from engine.stored_run import default_store

        kept = self._store  # open only while results are kept
        try:
            store = kept if kept is not None else default_store()  # on disk, even while keeping is off
            try:
                count = len(store)
                store.clear()
            finally:
                if store is not kept:
                    store.close()
        except Exception as exc:  # noqa: BLE001 - one line; the thread lives on
            self.storeCleared.emit(-1, one_line(exc))
            return
        self.storeCleared.emit(count, "")

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store, self._stored = None, None

    def _report_cancel(self, tracker: _JobProgress) -> None:
        """Say a job is cancelled, once. An IG preview running inside the job's progress
        callback says it between its batches, so the job ends on screen at once instead
        of when the preview is done (the job's own code unwinds after the preview)."""
        if not tracker.cancel_reported:
            tracker.cancel_reported = True
            self.jobCancelled.emit(tracker.job.job_id, tracker.done, max(tracker.total, tracker.done))

    def _background_params(self, job: ExplainJob, tracker: _JobProgress):
        """``ShapGradientParams`` with the background set already read, here in the engine
        thread with progress and cancel, or taken from the cache when the folder and model
        are the same as last time (the explainer then starts at once)."""
        from engine.explain.shap_gradient import ShapGradientParams

        params = ShapGradientParams(**job.background)
        params.validate()
        params.background_images = self._background.images(
            params.background, self._classifier.input_size, params.max_background, params.seed,
            self._generation, progress=tracker, cancel=job.cancel)
        return params

    @staticmethod
    def _wait_until_shown(job: ExplainJob | PreviewJob) -> None:
        """Give the GUI thread the machine while it draws the result (a fraction of a second).

        Drawing a figure is the heaviest thing the GUI thread does; with the engine running
        flat out beside it (same GIL, same cores) it would take twice as long and the window
        would stutter. Bounded, and cut short by cancel, so a busy or closed window never
        stalls a job.
        """
        deadline = time.monotonic() + RESULT_HANDOFF_S
        while not job.cancel.cancelled and time.monotonic() < deadline:
            if job.shown.wait(0.02):
                break
        job.shown.clear()

    # ------------------------------------------------------------------ evaluation

    @Slot(object)
    def run_evaluation(self, job) -> None:
        """Predict every image of a labelled folder (gui.evaluation_job.EvaluationJob)."""
        if job.cancel.cancelled:
            self.evaluationCancelled.emit(job.job_id)
            return
        if self._classifier is None:
            self.evaluationFailed.emit(job.job_id, "the model is not loaded")
            return
        self.evaluationStarted.emit(job.job_id)
        throttle = _Throttle()

        def progress(done: int, total: int, stage: str) -> None:
            if throttle.due(done >= total):
                self.evaluationProgress.emit(job.job_id, done, total)
            self.serve_predictions()  # dropped images still get their predictions at once

        try:
            from engine.evaluate import evaluate_folder

            result = evaluate_folder(job.folder, self._classifier, batch_size=job.batch_size,
                                     progress=progress, cancel=job.cancel)
        except Cancelled:
            self.evaluationCancelled.emit(job.job_id)
            return
        except Exception as exc:  # noqa: BLE001 - e.g. a misnamed sub-folder: one line, thread lives on
            self.evaluationFailed.emit(job.job_id, one_line(exc))
            return
        finally:
            self.serve_predictions()
        self.evaluationFinished.emit(job.job_id, result)

    @Slot(object)
    def run_sanity(self, job) -> None:
        """Cascading randomisation for each explanation of a gui.sanity_job.SanityJob; the
        weights are the model's own again when this returns, whatever happened."""
        if job.cancel.cancelled:
            self.sanityCancelled.emit(job.job_id)
            return
        if self._classifier is None:
            self.sanityFailed.emit(job.job_id, "the model is not loaded")
            return
        self.sanityStarted.emit(job.job_id)
        throttle = _Throttle()
        count = len(job.explanations)

        def counted(index: int):
            def progress(done: int, total: int, stage: str) -> None:
                # Methods count alike: each one's share of the bar is its own total.
                if throttle.due(done >= total):
                    self.sanityProgress.emit(job.job_id, index * total + done, count * total,
                                             f"{stage} ({index + 1}/{count})")
            return progress

        try:
            from engine.sanity import SanityParams, sanity_check

            for index, explanation in enumerate(job.explanations):
                job.cancel.raise_if_cancelled()
                result = sanity_check(explanation.image, self._classifier, explanation,
                                      _method_params(explanation), SanityParams(job.groups),
                                      progress=counted(index), cancel=job.cancel)
                self.sanityMethodReady.emit(job.job_id, explanation.method, result)
        except Cancelled:
            self.sanityCancelled.emit(job.job_id)
            return
        except Exception as exc:  # noqa: BLE001 - one line; the thread lives on
            self.sanityFailed.emit(job.job_id, one_line(exc))
            return
        self.sanityFinished.emit(job.job_id)

    # ------------------------------------------------------------------ weights download

    @Slot(object)
    def download_weights(self, cancel) -> None:
        """Runs here, not in the GUI thread: the file is ~100 MB."""
        throttle = _Throttle()

        def progress(done: int, total: int, stage: str) -> None:
            if throttle.due(bool(total) and done >= total):
                self.downloadProgress.emit(done, total)

        try:
            from engine.weights import download_resnet50_weights

            path = download_resnet50_weights(progress=progress, cancel=cancel)
        except Cancelled:
            self.downloadCancelled.emit()
            return
        except Exception as exc:  # noqa: BLE001
            self.downloadFailed.emit(one_line(exc))
            return
        self.downloadFinished.emit(str(path))


def _method_params(explanation):
    """The parameters an explanation was made with, as its method's params object."""
    from engine.explain import METHODS

    from dataclasses import fields

    _, params_type = METHODS[explanation.method]
    known = {f.name for f in fields(params_type)}
    return params_type(**{k: v for k, v in (explanation.params or {}).items() if k in known})
