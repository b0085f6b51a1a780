"""The one explain orchestrator: an ``ExplainRequest`` in, a ``ResultSet`` out.

``explain``, ``batch``, the Ray workers and the window's engine thread all call ``run()``, so
the order of the work (predict, each method, its score, its stability re-runs, the sanity
check) lives here only. What a caller must do between stages (draw a finished method, wait
until it is drawn, answer a preview between model batches) reaches it through ``Hooks``:
the engine never imports the window.

``plan()`` says how many model evaluations each stage makes, from the explainers' own
parameter defaults, so a progress bar is right before the first batch runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields, replace
from typing import Callable

import numpy as np

from engine.explain.gradcam import GradCamParams
from engine.explain.integrated_gradients import IntegratedGradientsParams
from engine.explain.lime_image import LimeParams
from engine.explain.shap_gradient import ShapGradientParams
from engine.explain.shap_partition import ShapParams
from engine.jobs import CancelToken, Explanation, Prediction, ProgressFn, no_progress

PARAMS_TYPES = {"shap": ShapParams, "lime": LimeParams, "shap-gradient": ShapGradientParams,
                "gradcam": GradCamParams, "ig": IntegratedGradientsParams}
METHOD_ORDER = tuple(PARAMS_TYPES)
DEFAULT_SCORING_STEPS = 32
PREDICTION_COUNT = 5  # top classes a result carries, whatever the number explained


@dataclass(frozen=True)
class ExplainRequest:
    """One image and what to compute for it.

    ``classes``: an int explains the top K predicted classes; a tuple explains those class
    indices. ``params`` maps a method to its typed parameters (missing: the defaults);
    ``seed`` is applied to every method that has one.
    """

    methods: tuple[str, ...]
    image: np.ndarray | None = field(default=None, repr=False)  # uint8 (H, W, 3), any size
    image_path: str | None = None  # read when ``image`` is None
    params: dict = field(default_factory=dict)
    classes: int | tuple[int, ...] = 3
    seed: int = 0
    scoring: bool = False  # faithfulness of each map
    scoring_steps: int = DEFAULT_SCORING_STEPS
    stability: int = 0  # re-runs with other seeds of the methods that have randomness
    sanity: bool = False  # model-randomisation check of each map
    sanity_steps: int = 5  # cascade steps of the sanity check (engine.sanity.SanityParams.groups)
    # Maps the caller already has (the window's previews on screen), to be scored with the
    # rest: they come through ``Hooks.reuse`` only, are never computed or re-run here, and
    # are scored first. Only with ``scoring``; a method the hook has no map for is passed over.
    supplied: tuple[str, ...] = ()

    def __post_init__(self):
        unknown = [m for m in self.methods + self.supplied if m not in PARAMS_TYPES]
        if unknown or not self.methods:
            raise ValueError(f"unknown method {', '.join(unknown) or '(none)'}; "
                             f"choose from {', '.join(METHOD_ORDER)}")
        if self.image is None and self.image_path is None:
            raise ValueError("an explain request needs an image or an image path")
        if set(self.supplied) & set(self.methods):
            raise ValueError("a method is either computed or supplied, not both")
        if self.stability < 0 or self.scoring_steps < 1:
            raise ValueError("stability must be 0 or more and scoring steps at least 1")

    def method_params(self, method: str):
        """The typed parameters ``method`` runs with: given ones or defaults, seed applied."""
        params = self.params.get(method) or PARAMS_TYPES[method]()
        if any(f.name == "seed" for f in fields(params)):
            params = replace(params, seed=self.seed)
        return params

    def class_count(self) -> int:
        return self.classes if isinstance(self.classes, int) else len(self.classes)


@dataclass(frozen=True)
class Stage:
    """One step of a run: ``kind`` is explain | score | stability | sanity."""

    kind: str
    method: str
    evaluations: int

    @property
    def name(self) -> str:
        return self.method if self.kind == "explain" else f"{self.kind}:{self.method}"

    @property
    def label(self) -> str:
        """What a progress bar says while this stage runs."""
        from engine.render import METHOD_TITLES

        title = METHOD_TITLES.get(self.method, self.method)
        return {"explain": title, "score": f"Faithfulness ({title})", "stability": f"Stability ({title})",
                "sanity": f"Sanity check ({title})"}[self.kind]


def method_evaluations(method: str, params, classes: int) -> int:
    """Model evaluations one run of ``method`` makes, as its parameters say."""
    k = max(1, classes)
    if method == "shap":
        return int(params.max_evals)
    if method == "lime":
        return int(params.num_samples)
    if method == "ig":
        return int(params.steps) * k
    if method == "shap-gradient":  # as GradientExplainer counts it (DeepExplainer is similar)
        return int(params.samples) * k + 1
    if method == "gradcam":
        return k
    raise ValueError(f"unknown method {method!r}")


def scoring_evaluations(classes: int, steps: int, band: bool = True) -> int:
    """Evaluations of ``score()`` for one map; ``band``: the random band is computed too
    (it is computed once per image and shared by every map scored after it)."""
    from engine.metrics import faithfulness_evaluations

    return faithfulness_evaluations(max(1, classes), steps, band_cached=not band)


def has_randomness(method: str, params) -> bool:
    from engine.stability import varies_with_seed

    return varies_with_seed(method, vars(params))


def plan(request: ExplainRequest, classifier=None) -> list[Stage]:
    """The stages ``run()`` goes through, with their model evaluations, in order."""
    k = request.class_count()
    if classifier is not None and isinstance(request.classes, int):
        k = min(k, classifier.num_classes)
    stages = []
    if request.scoring:
        for method in request.supplied:  # the map is there already: only its score costs
            stages.append(Stage("explain", method, 0))
            first = not any(s.kind == "score" for s in stages)
            stages.append(Stage("score", method, scoring_evaluations(k, request.scoring_steps, band=first)))
    for method in request.methods:
        params = request.method_params(method)
        stages.append(Stage("explain", method, method_evaluations(method, params, k)))
        if request.scoring:
            first = not any(s.kind == "score" for s in stages)
            stages.append(Stage("score", method, scoring_evaluations(k, request.scoring_steps, band=first)))
        if request.stability > 0 and has_randomness(method, params):
            stages.append(Stage("stability", method,
                                request.stability * method_evaluations(method, params, k)))
        if request.sanity:
            stages.append(Stage("sanity", method,
                                request.sanity_steps * method_evaluations(method, params, k)))
    return stages


@dataclass
class ResultSet:
    """Everything one request produced for one image. Plain numpy and dataclasses."""

    image: np.ndarray  # uint8, the exact model input
    predictions: list[Prediction]  # top classes, most probable first
    targets: list[int]  # the classes explained
    explanations: dict[str, Explanation] = field(default_factory=dict)
    scores: dict[str, dict] = field(default_factory=dict)  # method -> engine.metrics.faithfulness
    stability: dict[str, dict] = field(default_factory=dict)  # method -> engine.stability result
    sanity: dict[str, dict] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # method -> why it could not run
    timings: dict[str, float] = field(default_factory=dict)  # stage name -> seconds
    reused: tuple[str, ...] = ()  # methods a hook supplied instead of computing them
    stored_at: dict[str, float] = field(default_factory=dict)  # method -> when a stored result was made


@dataclass
class Hooks:
    """What a caller does between stages; every hook is optional.

    - ``finished(kind, method, value)``: a stage's result is ready (``value`` is the
      Explanation, or the score / stability / sanity dict). The window draws it.
    - ``shown()``: called right after ``finished``; the window blocks here briefly until
      the result is on screen, so drawing does not compete with the next stage.
    - ``between_batches()``: called after every model batch; the window serves previews.
    - ``predicted(predictions)``: the image's top classes, as soon as they are known.
    - ``reuse(method, image, targets)``: an Explanation computed earlier (a preview), or a
      stored result (``engine.store.StoredResult``: its scores and stability come along),
      to use instead of running ``method``; None to compute it.
    """

    finished: Callable[[str, str, object], None] | None = None
    shown: Callable[[], None] | None = None
    between_batches: Callable[[], None] | None = None
    reuse: Callable[[str, np.ndarray, list[int]], Explanation | None] | None = None
    predicted: Callable[[list[Prediction]], None] | None = None  # the top classes, before any method


class _Progress:
    """One progress count over all stages of a run, from the plan."""

    def __init__(self, stages: list[Stage], progress: ProgressFn, hooks: Hooks):
        self.total = max(1, sum(s.evaluations for s in stages))
        self.done = 0
        self._progress = progress
        self._hooks = hooks
        self._stage_done = 0
        self._stage = ""

    def start(self, stage: Stage) -> None:
        self._stage, self._stage_done = stage.label, 0
        self._planned = stage.evaluations
        self._progress(self.done, self.total, self._stage)

    def __call__(self, done: int, total: int, stage: str) -> None:
        step = max(0, min(done, max(total, self._planned)) - self._stage_done)
        self._stage_done += step
        # The explainer's own words when it has them ("Stability re-run 2 of 10").
        self._progress(min(self.done + self._stage_done, self.total), self.total, stage or self._stage)
        if self._hooks.between_batches is not None:
            self._hooks.between_batches()

    def drop(self, stage: Stage) -> None:
        """A stage that does no work after all (reused, stored, or nothing to score): it
        leaves the plan, so the count stays the evaluations really made."""
        self.total = max(self.done, self.total - stage.evaluations)
        self._progress(self.done, self.total, stage.label)

    def finish(self, stage: Stage) -> None:
        self.done += stage.evaluations
        self._progress(min(self.done, self.total), self.total, stage.label)


def prepare_image(request: ExplainRequest, classifier) -> np.ndarray:
    """The request's image, read if need be and fitted to the model input."""
    from engine.images import fit_to_model, load_image

    image = request.image if request.image is not None else load_image(request.image_path)
    image = np.asarray(image)
    if image.shape[:2] != tuple(classifier.input_size):
        image = fit_to_model(image, classifier.input_size)
    return np.ascontiguousarray(image, dtype=np.uint8)


def choose_targets(request: ExplainRequest, classifier, probabilities: np.ndarray) -> list[int]:
    if isinstance(request.classes, int):
        k = min(request.classes, classifier.num_classes)
        return [p.index for p in classifier.top_k(probabilities, k)]
    targets = [int(c) for c in request.classes]
    bad = [c for c in targets if not 0 <= c < classifier.num_classes]
    if bad or not targets:
        raise ValueError(f"class {bad[0] if bad else '(none)'} out of range "
                         f"(the model has {classifier.num_classes} classes)")
    return targets


def run(request: ExplainRequest, classifier, progress: ProgressFn = no_progress,
        cancel: CancelToken | None = None, hooks: Hooks | None = None) -> ResultSet:
    """Compute everything ``request`` asks for. Cancelling raises ``Cancelled`` within one
    model batch. A method that cannot apply to this model (Grad-CAM without a convolutional
    layer, a gradient method on a model without gradients) is listed in ``skipped`` when
    other methods were asked for, else it raises."""
    from engine import explain

    hooks = hooks or Hooks()
    cancel = cancel or CancelToken()
    started = time.perf_counter()
    image = prepare_image(request, classifier)
    probabilities = classifier.predict(image[None])[0]
    targets = choose_targets(request, classifier, probabilities)
    result = ResultSet(image=image, targets=targets,
                       predictions=classifier.top_k(probabilities, min(max(PREDICTION_COUNT, len(targets)),
                                                                        classifier.num_classes)))
    result.timings["predict"] = time.perf_counter() - started
    if hooks.predicted is not None:
        hooks.predicted(result.predictions)
    stages = plan(replace(request, classes=len(targets)) if isinstance(request.classes, int) else request)
    counter = _Progress(stages, progress, hooks)
    reused = []
    for stage in stages:
        cancel.raise_if_cancelled()
        method = stage.method
        if stage.kind != "explain" and (method not in result.explanations or _have(result, stage)):
            counter.drop(stage)  # its explanation was skipped, or this came stored with it
            if method in result.explanations and hooks.finished is not None:
                hooks.finished(stage.kind, method, _part(result, stage)[method])
                if hooks.shown is not None:
                    hooks.shown()
            continue
        params = request.method_params(method)
        counter.start(stage)
        t0 = time.perf_counter()
        if stage.kind == "explain":
            value = hooks.reuse(method, image, targets) if hooks.reuse else None
            if value is None and method in request.supplied:
                counter.drop(stage)  # no map to score
                continue
            if value is not None:
                reused.append(method)
                value = _take_stored(value, method, result)
                counter.drop(stage)
                stage = replace(stage, evaluations=0)  # out of the plan: nothing to count when done
            else:
                try:
                    value = explain.run(method, image, classifier, targets, params,
                                        progress=counter, cancel=cancel)
                except ValueError as exc:  # the method cannot apply to this model
                    if len(request.methods) == 1:
                        raise
                    result.skipped[method] = str(exc)
                    counter.drop(stage)
                    continue
            result.explanations[method] = value
        elif stage.kind == "score":
            value = score(image, classifier, result.explanations[method], request, counter, cancel)
            result.scores[method] = value
        elif stage.kind == "stability":
            from engine.stability import rerun_stability

            value = rerun_stability(result.explanations[method], classifier, params,
                                    request.stability, progress=counter, cancel=cancel)
            result.stability[method] = value
        else:
            value = sanity(image, classifier, result.explanations[method], params, request, counter, cancel)
            result.sanity[method] = value
        result.timings[stage.name] = time.perf_counter() - t0
        counter.finish(stage)
        if hooks.finished is not None:
            hooks.finished(stage.kind, method, value)
            if hooks.shown is not None:
                hooks.shown()
    result.reused = tuple(reused)
    result.timings["total"] = time.perf_counter() - started
    return result


def _take_stored(value, method: str, result: ResultSet) -> Explanation:
    """A reused Explanation as it is; a stored result brings its scores and stability too."""
    if not hasattr(value, "explanation"):
        return value
    if value.scores is not None:
        result.scores[method] = value.scores
    if value.stability is not None:
        result.stability[method] = value.stability
    result.stored_at[method] = value.created
    # Said on the explanation itself, so whoever shows it can say "stored <date>".
    return replace(value.explanation, timings={**value.explanation.timings, "stored_at": value.created})


def _part(result: ResultSet, stage: Stage) -> dict:
    return {"score": result.scores, "stability": result.stability, "sanity": result.sanity}[stage.kind]


def _have(result: ResultSet, stage: Stage) -> bool:
    return stage.method in _part(result, stage)


def score(image, classifier, explanation: Explanation, request: ExplainRequest,
          progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> dict:
    """How faithful one explanation is: the only place the pipeline calls the metric."""
    from engine.metrics import faithfulness

    return faithfulness(image, classifier, explanation, steps=request.scoring_steps,
                        seed=request.seed, progress=progress, cancel=cancel)


def sanity(image, classifier, explanation: Explanation, params, request: ExplainRequest,
           progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> dict:
    """The model-randomisation check of one explanation: the only place the pipeline calls it."""
    from engine.errors import EngineError
    from engine.sanity import SanityParams, sanity_check

    if getattr(classifier, "keras_model", None) is None:
        raise EngineError(f"{classifier.name}: the sanity check randomises Keras layers; "
                          "it is not available for this model format")
    return sanity_check(image, classifier, explanation, params,
                        SanityParams(groups=request.sanity_steps, seed=request.seed),
                        progress=progress, cancel=cancel)


def warm_up(classifier, between_batches: Callable[[], None] | None = None,
            cancel: CancelToken | None = None) -> None:
    """Run each explainer once, tiny, at the model's input size, before any real job.

    Their first use imports shap, lime and OpenCV, loads shap's helpers and the Telea kernel
    from numba's cache and builds the masker's partition tree for this image size: seconds
    of work that holds the GIL in long stretches. Paying it here keeps those stalls out of
    the first real explanation. Failures are the caller's to ignore (a real job reports its own).
    """
    import skimage.data

    from engine import explain
    from engine.images import fit_to_model

    # A real photo, so segmentation does what it does on real images.
    image = fit_to_model(skimage.data.chelsea(), classifier.input_size)

    def step(done: int, total: int, stage: str) -> None:
        if between_batches is not None:
            between_batches()

    explain.run("shap", image, classifier, [0], ShapParams(max_evals=10, batch_size=10),
                progress=step, cancel=cancel)
    explain.run("lime", image, classifier, [0], LimeParams(num_samples=2, num_features=1, batch_size=2),
                progress=step, cancel=cancel)
    # Trace the gradient functions now: tracing ResNet-50's gradient lazily while a window
    # is busy has crashed TensorFlow; traced here it is reliable.
    if getattr(classifier, "supports_gradients", True):  # ONNX models have no gradients
        try:
            explain.run("gradcam", image, classifier, [0], cancel=cancel)
        except ValueError:
            pass  # no convolutional layer: this model gets no Grad-CAM
        explain.run("ig", image, classifier, [0], IntegratedGradientsParams(steps=2), progress=step,
                    cancel=cancel)
    # Faithfulness feeds float32 images: trace that forward pass now too.
    classifier.predict(image[None].astype("float32"))
