"""What crosses between the GUI thread and the engine thread: small dataclasses and numpy arrays.

Nothing here imports keras, so the window can build these before the model (or TensorFlow)
has loaded. Explainer parameters travel as plain dicts and become ``ShapParams`` /
``LimeParams`` inside the worker; how many model evaluations a job makes comes from
``engine.pipeline`` (imported here, at start-up, so planning a job never pays for the
import while the window is in use).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np

from engine import pipeline
from engine.jobs import CancelToken

PREDICTION_COUNT = 5  # rows in the predictions panel


@dataclass(frozen=True)
class ModelRequest:
    """Which model to load; mirrors ``engine.models.ModelSpec`` without importing it."""

    model: str = "resnet50"
    weights: str | None = None
    labels: str | None = None
    preprocess: str | None = None
    trust: bool = False
    runtime: str | None = None  # forward pass: auto | keras | openvino (None: the default)
    precision: str = "float32"  # "bfloat16": the labelled fast choice (OpenVINO on CPU)
    layout: str | None = None  # ONNX input layout NCHW | NHWC (None: from the input shape)
    custom_objects: str | None = None  # a .py file defining custom layers (runs it: trusted only)

    @classmethod
    def from_args(cls, args) -> "ModelRequest":
        return cls(model=getattr(args, "model", None) or "resnet50",
                   weights=getattr(args, "weights", None),
                   labels=getattr(args, "labels", None),
                   preprocess=getattr(args, "preprocess", None),
                   trust=bool(getattr(args, "trust_model", False)),
                   runtime=getattr(args, "runtime", None),
                   precision=getattr(args, "precision", None) or "float32",
                   layout=getattr(args, "layout", None),
                   custom_objects=getattr(args, "custom_objects", None))

    def with_weights(self, weights: str | None) -> "ModelRequest":
        return replace(self, weights=weights)


@dataclass(frozen=True)
class ModelInfo:
    """Sent once a model has loaded: what the status bar shows."""

    label: str
    name: str
    untrained: bool
    backend: str
    device: str
    input_size: tuple[int, int]
    num_classes: int
    generation: int
    # For the model summary view; computed in the engine thread, so the GUI never touches Keras.
    channels: int = 3
    preprocess: str = ""
    labels_source: str = ""
    source: str = ""  # the model file or folder ("" for ResNet-50's own weights lookup)
    class_names: tuple[str, ...] = ()
    summary: tuple[dict, ...] = ()  # engine.models.Classifier.summary() rows, plain data
    runtime: str = "keras"  # what runs the forward pass: "keras" or "openvino"
    runtime_note: str = ""  # why "auto" kept Keras, if it did
    precision: str = "float32"  # "bfloat16" when Model ▸ Fast CPU mode is on
    # False for models without gradients (ONNX): Grad-CAM, IG and background-set SHAP are
    # greyed out, with ``gradient_note`` as the reason.
    supports_gradients: bool = True
    gradient_note: str = ""
    facts: tuple[tuple[str, str], ...] = ()  # extra (caption, text) lines for the model summary
    head: str = ""  # engine.heads.HeadKind value: what the model's output means


@dataclass(frozen=True)
class ModelFailure:
    """A model that could not load. ``filename``/``folder`` are set when weights are missing."""

    message: str
    filename: str | None = None
    folder: str | None = None
    needs_trust: bool = False  # refused because loading it would run code from the file
    previous: ModelInfo | None = None  # the model still loaded and in use, if any
    detail: str = ""  # the library's own words behind ``message`` (shown on request)
    wrong_weights: str = ""  # why a weights file does not fit ResNet-50 (engine WrongWeightsError)

    @property
    def weights_missing(self) -> bool:
        return self.filename is not None


@dataclass(frozen=True)
class PredictRequest:
    image_key: int
    image: np.ndarray  # uint8 (H, W, 3), any size: the worker fits it to the model


@dataclass
class ExplainJob:
    """One image, one or more methods. The GUI keeps this record; the worker reads it.

    ``cancel`` is shared on purpose: the GUI thread sets it directly (a queued call would wait
    behind the running job) and the engine checks it once per model batch.
    """

    job_id: int
    image_key: int
    image: np.ndarray
    methods: tuple[str, ...]
    shap: dict
    lime: dict
    classes: int
    cancel: CancelToken = field(default_factory=CancelToken)
    # Set by the GUI once a delivered result is on screen; the engine waits for it (briefly)
    # before going on, so drawing the result does not compete with the next method for CPU.
    shown: threading.Event = field(default_factory=threading.Event)
    state: str = "queued"  # queued | running | done | cancelled | failed
    done: int = 0
    total: int = 0
    stage: str = ""
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    ig: dict = field(default_factory=dict)  # IntegratedGradientsParams keyword arguments
    faithfulness_steps: int = 0  # > 0: score each finished method (engine.metrics.faithfulness)
    background: dict = field(default_factory=dict)  # ShapGradientParams keyword arguments
    stability_runs: int = 0  # > 0: re-run methods that have randomness (engine.stability)
    # With faithfulness on, the job scores the image's Grad-CAM and IG previews too when the
    # engine has them; those on screen at submit, so the plan counts them.
    score_preview: tuple[str, ...] = ()

    def method_params(self) -> dict:
        """Each method's typed parameters, as the engine will run them."""
        types = pipeline.PARAMS_TYPES
        return {"shap": types["shap"](**self.shap), "lime": types["lime"](**self.lime),
                "ig": types["ig"](**self.ig), "gradcam": types["gradcam"](),
                "shap-gradient": types["shap-gradient"](**self.background)}

    def request(self, params: dict | None = None) -> pipeline.ExplainRequest:
        """What the engine's pipeline runs for this job (``params``: typed parameters that
        replace the settings' own, such as background-set SHAP with its images read)."""
        params = {**self.method_params(), **(params or {})}
        return pipeline.ExplainRequest(
            methods=self.methods, image=self.image, params={m: params[m] for m in self.methods},
            classes=self.classes, seed=int(self.lime.get("seed", 0)), scoring=self.faithfulness_steps > 0,
            scoring_steps=max(1, self.faithfulness_steps), stability=self.stability_runs,
            supplied=self.scored_previews)

    def planned_evaluations(self) -> int:
        """Model evaluations the whole job will make, as the pipeline plans it."""
        return sum(stage.evaluations for stage in pipeline.plan(self.request()))

    @property
    def scored_previews(self) -> tuple[str, ...]:
        """Previews (Grad-CAM, IG) the plan counts scoring: those on screen at submit that
        the job does not compute itself, so every map on screen gets a score."""
        if self.faithfulness_steps <= 0:
            return ()
        return tuple(m for m in self.score_preview if m not in self.methods)

    def stability_methods(self) -> list[str]:
        """This job's methods that stability re-runs repeat (those with randomness)."""
        return [stage.method for stage in pipeline.plan(self.request()) if stage.kind == "stability"]

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "failed")


@dataclass
class PreviewJob:
    """A quick preview of one image's top classes: Grad-CAM, then Integrated Gradients.

    It runs in the engine thread's priority lane (between batches of whatever job is
    running), with its own cancel token: cancelling a job never cancels a preview, and the
    other way round. Grad-CAM (about one forward pass) lands first; IG (``steps`` gradient
    passes per class) follows, and waits behind any newer image's Grad-CAM.
    """

    job_id: int
    image_key: int
    image: np.ndarray
    classes: int
    cancel: CancelToken = field(default_factory=CancelToken)
    generation: int = 0
    shown: threading.Event = field(default_factory=threading.Event)  # as ExplainJob.shown
    gradcam: bool = True  # False: this model has no convolutional layer, or it is on screen
    ig: dict | None = None  # IntegratedGradientsParams keyword arguments; None: no IG preview

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(m for m, wanted in (("gradcam", self.gradcam), ("ig", self.ig is not None)) if wanted)


def ig_matches(explanation, ig: dict) -> bool:
    """True when an IG explanation was computed with these ``IntegratedGradientsParams``
    keywords (defaults filled in), so it can stand in for a new computation. Batch size only
    splits the work; the seed only matters to the noise baseline."""
    from engine.explain.integrated_gradients import IntegratedGradientsParams

    wanted = vars(IntegratedGradientsParams(**ig))
    keys = ["steps", "baseline", "blur_sigma"] + (["seed"] if wanted["baseline"] == "noise" else [])
    return (explanation is not None and explanation.method == "ig"
            and all(explanation.params.get(k) == wanted[k] for k in keys))
