"""LIME for images: fit a local linear model on superpixels switched on and off.

Every knob of ``LimeImageExplainer.explain_instance`` that the seed notebooks use is a field
of ``LimeParams``. The attribution map fills each segment with its LIME weight; segments and
weights are kept so views can show positive-only, top-N, hide-rest and boundaries.

Speed without changing the numbers: lime builds each perturbed image in a Python loop with
a deep copy and one mask pass per hidden segment. Here a batch of perturbations is one
vectorised ``np.where``, drawn from the same random numbers in the same order.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from engine.explain.common import checked_inputs, make_explanation
from engine.explain.guard import GuardedPredict
from engine.explain.parallel import pool, worker_count
from engine.jobs import CancelToken, Explanation, ProgressCounter, ProgressFn, no_progress

# lime's own defaults for quickshift; skimage's for the others.
SEGMENTATION_DEFAULTS = {
    "quickshift": {"kernel_size": 4, "max_dist": 200, "ratio": 0.2},
    "slic": {"n_segments": 100, "compactness": 10.0, "sigma": 1.0, "start_label": 0},
    "felzenszwalb": {"scale": 100.0, "sigma": 0.5, "min_size": 50},
}
DISTANCE_METRICS = ("cosine", "euclidean", "manhattan", "l1", "l2", "cityblock")


@dataclass
class LimeParams:
    num_samples: int = 1000
    num_features: int = 1000
    hide_color: float | None = 0.0  # None: each hidden segment takes its mean colour
    batch_size: int = 50
    kernel_width: float = 0.25
    distance_metric: str = "cosine"
    segmentation: str = "quickshift"
    segmentation_params: dict = field(default_factory=dict)
    seed: int = 0

    def resolved_segmentation_params(self) -> dict:
        merged = dict(SEGMENTATION_DEFAULTS[self.segmentation])
        merged.update(self.segmentation_params)
        return merged

    def validate(self) -> None:
        if self.segmentation not in SEGMENTATION_DEFAULTS:
            raise ValueError(f"unknown segmentation {self.segmentation!r}: use {', '.join(SEGMENTATION_DEFAULTS)}")
        unknown = set(self.segmentation_params) - set(SEGMENTATION_DEFAULTS[self.segmentation])
        if unknown:
            raise ValueError(f"{self.segmentation} has no parameter {', '.join(sorted(unknown))}")
        if self.distance_metric not in DISTANCE_METRICS:
            raise ValueError(f"unknown distance metric {self.distance_metric!r}")
        if self.num_samples < 2:
            raise ValueError("LIME needs at least 2 samples")
        if self.num_features < 1 or self.batch_size < 1 or self.kernel_width <= 0:
            raise ValueError("LIME features, batch size and kernel width must be positive")


def segment(image: np.ndarray, params: LimeParams) -> np.ndarray:
    from lime.wrappers.scikit_image import SegmentationAlgorithm

    extra = {"random_seed": params.seed} if params.segmentation == "quickshift" else {}
    algorithm = SegmentationAlgorithm(params.segmentation, **params.resolved_segmentation_params(), **extra)
    return algorithm(image)


def explain(image: np.ndarray, classifier, targets, params: LimeParams | None = None,
            progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> Explanation:
    image, targets, params = checked_inputs(image, classifier, targets, params, LimeParams)
    started = time.perf_counter()
    counter = ProgressCounter(progress, params.num_samples, "LIME")
    predict = GuardedPredict(classifier, counter, cancel)
    segments = segment(image, params)
    explainer = _vectorised_explainer_type()(kernel_width=params.kernel_width,
                                             random_state=params.seed)
    result = explainer.explain_instance(
        image, predict, labels=targets, top_labels=None, hide_color=params.hide_color,
        num_features=params.num_features, num_samples=params.num_samples,
        batch_size=params.batch_size, segmentation_fn=lambda _: segments,
        distance_metric=params.distance_metric, random_seed=params.seed)
    counter.finish()
    weights = np.zeros((len(targets), int(segments.max()) + 1), np.float32)
    for k, target in enumerate(targets):
        for seg_id, weight in result.local_exp[target]:
            weights[k, seg_id] = weight
    maps = weights[:, segments]  # each pixel takes its segment's weight
    used = asdict(params) | {"segmentation_params": params.resolved_segmentation_params()}
    return make_explanation(
        "lime", image, classifier, targets, maps, used, time.perf_counter() - started,
        predict.evaluations,
        extras={"segments": segments.astype(np.int32), "segment_weights": weights,
                "intercepts": np.array([result.intercept[t] for t in targets], np.float32)})


def _vectorised_explainer_type():
    from lime import lime_image

    class VectorisedLimeImageExplainer(lime_image.LimeImageExplainer):
        def data_labels(self, image, fudged_image, segments, classifier_fn, num_samples,
                        batch_size=10, **kwargs):
            n_features = np.unique(segments).shape[0]
            if segments.min() < 0 or segments.max() >= n_features:
                # lime's loop treats feature z as segment id z; keep its exact behaviour.
                return super().data_labels(image, fudged_image, segments, classifier_fn,
                                           num_samples, batch_size=batch_size, **kwargs)
            # The same random draw as lime, so a seed gives lime's own samples.
            data = self.random_state.randint(0, 2, num_samples * n_features).reshape(
                (num_samples, n_features))
            data[0, :] = 1
            labels = []
            for start in range(0, num_samples, batch_size):
                rows = data[start:start + batch_size].astype(bool)
                labels.extend(classifier_fn(_perturbed_images(rows, segments, image, fudged_image)))
            return data, np.array(labels)

    return VectorisedLimeImageExplainer


def _perturbed_images(rows: np.ndarray, segments: np.ndarray, image: np.ndarray,
                      fudged_image: np.ndarray) -> np.ndarray:
    """Image ``i`` shows ``image`` where segment ``s`` has ``rows[i, s]`` set, else ``fudged_image``.

    Split across the shared pool: numpy's copies release the GIL, so every core builds part
    of the batch.
    """
    out = np.empty((len(rows), *image.shape), dtype=image.dtype)

    def build(span: slice) -> None:
        keep = np.take(rows[span], segments, axis=1)  # booleans: one byte a pixel
        out[span] = fudged_image
        np.copyto(out[span], image, where=keep[..., None])

    step = max(1, -(-len(rows) // worker_count()))
    spans = [slice(i, i + step) for i in range(0, len(rows), step)]
    if len(spans) > 1:
        list(pool().map(build, spans))
    else:
        build(spans[0])
    return out
