"""One batch worker: loads the model once, then explains image after image through the pipeline.

The same class runs in the batch process itself, and as a Ray actor (engine/batch_ray.py).
It writes each image's files (atomically, under ``DIR/results/``) and returns a small
``ImageOutcome``; whoever drives the run records it in the index, after the files exist.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.batch_index import ImageOutcome, MethodRow
from engine.errors import Cancelled, EngineError

RESULTS_FOLDER = "results"


@dataclass(frozen=True)
class BatchSettings:
    """What every image of a run is asked for; plain data, so it can travel to workers."""

    model: object  # engine.models.ModelSpec
    methods: tuple[str, ...]
    params: dict = field(default_factory=dict)  # method -> typed params
    classes: int = 3
    seed: int = 0
    scoring: bool = False
    scoring_steps: int = 32
    stability: int = 0
    png: bool = False

    def numbers_key(self) -> dict:
        """Everything here that changes the numbers (the PNGs do not), as JSON data."""
        from engine.store import params_key

        return {"methods": list(self.methods), "classes": self.classes, "seed": self.seed,
                "scoring": self.scoring, "scoring_steps": self.scoring_steps if self.scoring else None,
                "stability": self.stability,
                "params": {m: params_key(self.request_params(m)) for m in self.methods}}

    def request_params(self, method: str):
        """The typed parameters ``method`` runs with (defaults filled in, seed applied)."""
        return self._request(np.zeros((1, 1, 3), np.uint8)).method_params(method)

    def _request(self, image):
        from engine.pipeline import ExplainRequest

        return ExplainRequest(methods=self.methods, image=image, params=self.params, classes=self.classes,
                              seed=self.seed, scoring=self.scoring, scoring_steps=self.scoring_steps,
                              stability=self.stability)


class ImageWorker:
    def __init__(self, settings: BatchSettings, root: str | Path, out_dir: str | Path, classifier=None):
        from engine.evaluate import normalise_label

        self.settings = settings
        self.root = Path(root)
        self.out_dir = Path(out_dir)
        if classifier is None:
            from engine.models import load_classifier

            classifier = load_classifier(settings.model)
        self.classifier = classifier
        self._labels = {}
        for index, name in enumerate(classifier.class_names):
            self._labels.setdefault(normalise_label(name), name)
        self._normalise = normalise_label
        self._params = dict(settings.params)
        background = self._params.get("shap-gradient")
        if background is not None and background.background_images is None:
            from dataclasses import replace

            from engine.explain.shap_gradient import load_background

            images, _ = load_background(background.background, classifier.input_size,
                                        background.max_background, background.seed)
            self._params["shap-gradient"] = replace(background, background_images=images)

    def true_name(self, relpath: str) -> str | None:
        """The class a labelled folder gives the image (``cat/x.jpg`` and ``cat/2024/x.jpg``
        -> "cat"): the nearest enclosing folder named like a class, if any."""
        for folder in reversed(Path(relpath).parent.parts):
            name = self._labels.get(self._normalise(folder))
            if name is not None:
                return name
        return None

    def process(self, relpath: str, image: np.ndarray | None = None, error: str = "") -> ImageOutcome:
        """Explain one image; a file or model failure comes back as a failed outcome."""
        started = time.perf_counter()
        outcome = ImageOutcome(relpath=relpath, status="failed", true_name=self.true_name(relpath))
        try:
            if error:
                raise EngineError(error)
            if image is None:
                from engine.images import load_image

                image = load_image(self.root / relpath)
            self._explain(relpath, image, outcome)
            outcome.status = "done"
        except (Cancelled, KeyboardInterrupt):
            raise
        except (EngineError, ValueError, OSError) as exc:
            outcome.error = without_name(relpath, _one_line(exc))
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _explain(self, relpath: str, image: np.ndarray, outcome: ImageOutcome) -> None:
        from dataclasses import replace

        from engine import pipeline
        from engine.export import write_explanation
        from engine.metrics import json_summary
        from engine.stability import json_summary as stability_summary
        from engine.thumbnails import jpeg, map_jpeg

        request = replace(self.settings._request(image), params=self._params)
        result = pipeline.run(request, self.classifier)
        outcome.predictions = [p.to_json() for p in result.predictions]
        outcome.thumbnail = jpeg(result.image)
        base = self.out_dir / RESULTS_FOLDER / relpath
        base.parent.mkdir(parents=True, exist_ok=True)
        for method in self.settings.methods:
            if method in result.skipped:
                outcome.methods.append(MethodRow(method, "failed", error=_first_line(result.skipped[method])))
                continue
            explanation = result.explanations[method]
            scores, stability = result.scores.get(method), result.stability.get(method)
            # The explain command's own files, complete or absent (PNGs with --png).
            json_path, npz_path = write_explanation(
                base.parent, base.name, explanation, relpath, result.predictions, faithfulness=scores,
                stability=stability, pngs=self.settings.png)[:2]
            top = [{"index": c, "name": n, "probability": p} for c, n, p in
                   zip(explanation.classes, explanation.class_names, explanation.probabilities)]
            timings = {"explain_s": float(explanation.timings.get("explain_s", 0.0)),
                       "model_evaluations": int(explanation.timings.get("model_evaluations", 0))}
            plain = json_summary(scores) if scores else {}
            if stability is not None:
                plain["stability_score"] = stability_summary(stability)["score"]
            outcome.methods.append(MethodRow(
                method, "done", top_classes=top, scores=plain or None, timings=timings,
                json_path=str(json_path.relative_to(self.out_dir)),
                npz_path=str(npz_path.relative_to(self.out_dir)),
                thumbnail=map_jpeg(result.image, explanation.maps[0])))


def without_name(relpath: str, text: str) -> str:
    """Image errors start with the file's name; the batch lines name the relative path already."""
    prefix = f"{Path(relpath).name}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _first_line(text: str) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else "failed"


def _one_line(exc: BaseException) -> str:
    return _first_line(str(exc)) if str(exc).strip() else type(exc).__name__
