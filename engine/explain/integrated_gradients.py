"""Integrated Gradients (Sundararajan et al. 2017): gradients summed along a straight path.

The attribution of pixel i is ``(x_i - x'_i) * integral_0^1 dS(x' + a (x - x')) / dx_i da``
for a baseline image x' and the class score S, here the pre-softmax logit where the model ends
in a softmax (see ``engine.backend``). The integral is the trapezoid rule over ``steps``
evenly spaced points, both ends included (Captum's "riemann_trapezoid"); channels are summed
into one (H, W) map per class, signed: positive pushes towards the class.

Completeness says the attributions sum to ``S(x) - S(x')``; the two scores come for free with
the path's end points, so the gap is reported per class (``extras["completeness_gap"]``): a
large gap means too few steps.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from engine.explain.common import checked_inputs, make_explanation
from engine.explain.gradcam import model_pixels
from engine.jobs import CancelToken, Explanation, ProgressCounter, ProgressFn, no_progress

BASELINES = ("black", "white", "blur", "noise")


@dataclass
class IntegratedGradientsParams:
    steps: int = 32
    baseline: str = "black"  # black | white | blur (of the image) | noise (uniform, seeded)
    batch_size: int = 32
    seed: int = 0  # for the noise baseline
    blur_sigma: float | None = None  # blur baseline; None: engine.metrics.default_blur_sigma

    def validate(self) -> None:
        if self.baseline not in BASELINES:
            raise ValueError(f"unknown IG baseline {self.baseline!r}: use {', '.join(BASELINES)}")
        if self.steps < 2:
            raise ValueError("Integrated Gradients needs at least 2 steps")
        if self.batch_size < 1:
            raise ValueError("Integrated Gradients batch size must be at least 1")
        if self.blur_sigma is not None and self.blur_sigma <= 0:
            raise ValueError("IG blur sigma must be positive")


def baseline_image(image: np.ndarray, params: IntegratedGradientsParams) -> np.ndarray:
    """The path's starting image, float32 (H, W, 3) in 0-255."""
    from engine.metrics import default_blur_sigma, gaussian_blur

    if params.baseline == "black":
        return np.zeros(image.shape, np.float32)
    if params.baseline == "white":
        return np.full(image.shape, 255.0, np.float32)
    if params.baseline == "blur":
        sigma = params.blur_sigma or default_blur_sigma(image.shape[:2])
        return gaussian_blur(image, sigma)
    if params.baseline == "noise":
        return np.random.default_rng(params.seed).uniform(0, 255, image.shape).astype(np.float32)
    raise ValueError(f"unknown IG baseline {params.baseline!r}")


def path_weights(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Points along the path (0 .. 1, ``steps`` of them) and their trapezoid weights (sum 1)."""
    alphas = np.linspace(0.0, 1.0, steps)
    weights = np.full(steps, 1.0 / (steps - 1))
    weights[[0, -1]] *= 0.5
    return alphas, weights


def explain(image: np.ndarray, classifier, targets,
            params: IntegratedGradientsParams | None = None,
            progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> Explanation:
    from engine.backend import cached_gradient, class_score_name

    image, targets, params = checked_inputs(image, classifier, targets, params, IntegratedGradientsParams)
    cancel = cancel or CancelToken()
    started = time.perf_counter()
    gradient = cached_gradient(classifier, None, wrt_input=True)
    baseline = baseline_image(image, params)
    x = model_pixels(image.astype(np.float32), classifier)
    x0 = model_pixels(baseline, classifier)
    delta = x - x0
    alphas, weights = path_weights(params.steps)
    # One row per (target, point on the path), taken in batches across targets.
    jobs = [(k, s) for k in range(len(targets)) for s in range(params.steps)]
    counter = ProgressCounter(progress, len(jobs), "Integrated Gradients")
    integrated = np.zeros((len(targets), *x.shape), np.float64)
    scores = np.zeros((len(targets), params.steps), np.float64)
    for start in range(0, len(jobs), params.batch_size):
        cancel.raise_if_cancelled()
        batch = jobs[start:start + params.batch_size]
        points = np.array([alphas[s] for _, s in batch], np.float32)[:, None, None, None]
        rows = x0[None] + points * delta[None]
        result = gradient(rows, np.array([targets[k] for k, _ in batch]))
        for j, (k, s) in enumerate(batch):
            integrated[k] += weights[s] * result.input_grads[j, 0]
            scores[k, s] = result.scores[j, 0]
        counter.add(len(batch))
    counter.finish()
    attributions = integrated * delta[None]  # (K, H, W, C)
    maps = attributions.sum(axis=-1)
    difference = scores[:, -1] - scores[:, 0]
    gap = maps.reshape(len(targets), -1).sum(axis=1) - difference
    used = asdict(params) | {"score": class_score_name(classifier.keras_model,
                                                       getattr(classifier, "head_kind", None))}
    return make_explanation(
        "ig", image, classifier, targets, maps, used, time.perf_counter() - started,
        len(jobs),
        extras={"completeness_gap": gap.astype(np.float32),
                "score_difference": difference.astype(np.float32),
                "baseline": baseline.astype(np.float32)})
