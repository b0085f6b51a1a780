"""How faithful and how consistent explanations are: plain numpy and ``classifier.predict``.

Faithfulness (Petsiuk et al. 2018, RISE): pixels are taken in the order an attribution map
ranks them, most important first.
- Deletion replaces them, step by step, with a substrate (black by default) and follows the
  class probability; a faithful map makes it fall fast, so a low area under the curve is good.
- Insertion starts from a substrate that carries little of the class (a blurred copy) and puts
  the original pixels back in the same order; a faithful map makes it rise fast, so a high
  area under the curve is good.
The x-axis is the fraction of pixels changed, [0, 1]; areas are trapezoids over it. A random
order (seeded) gives the reference any real explanation should beat.

Agreement between two maps: Spearman rank correlation and the overlap (IoU) of their top
pixels. Stability of repeated runs: the per-pixel spread and the mean pairwise rank
correlation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from engine.jobs import CancelToken, ProgressCounter, ProgressFn, no_progress

SUBSTRATES = ("black", "blur", "mean")
DEFAULT_STEPS = 32
DEFAULT_BATCH = 64


@dataclass
class FaithfulnessCurves:
    """Deletion and insertion curves of one attribution map for one class."""

    fractions: np.ndarray  # (S + 1,) fraction of pixels deleted / inserted, 0 .. 1
    deletion: np.ndarray  # (S + 1,) class probability as pixels are deleted
    insertion: np.ndarray  # (S + 1,) class probability as pixels are inserted
    deletion_auc: float  # lower is better
    insertion_auc: float  # higher is better


# ---------------------------------------------------------------------------------------------
# Substrates
# ---------------------------------------------------------------------------------------------


def default_blur_sigma(size: tuple[int, int]) -> float:
    """A blur that removes shapes but keeps colours: about RISE's kernel at 224×224
    (11×11, sigma 5, i.e. a spread of about 4.5 pixels), scaled with the image."""
    return max(1.0, 0.02 * min(size))


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of an (H, W, C) image as float32, edges mirrored (scipy's "reflect").

    Done as two small matrix products (rows, then columns) that hold the kernel and the edge
    handling, which is exact and fast at model input sizes."""
    if sigma <= 0:
        return np.asarray(image, np.float32).copy()
    x = np.asarray(image, np.float64)
    rows = _blur_matrix(x.shape[0], sigma)
    cols = _blur_matrix(x.shape[1], sigma)
    x = np.einsum("ih,hwc->iwc", rows, x, optimize=True)
    return np.einsum("jw,iwc->ijc", cols, x, optimize=True).astype(np.float32)


def _blur_matrix(n: int, sigma: float) -> np.ndarray:
    radius = max(1, int(3 * sigma + 0.5))  # as scipy.ndimage with truncate=3
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    matrix = np.zeros((n, n))
    for offset, weight in zip(offsets, kernel):
        source = np.arange(n) + offset
        # mirror at the edges with the edge pixel repeated (d c b a | a b c d | d c b a)
        period = 2 * n
        source = np.mod(source, period)
        source = np.where(source >= n, period - 1 - source, source)
        np.add.at(matrix, (np.arange(n), source), weight)
    return matrix


def substrate(image: np.ndarray, kind: str, blur_sigma: float | None = None) -> np.ndarray:
    """What deleted pixels become (or what insertion starts from), float32 (H, W, C)."""
    image = np.asarray(image)
    if kind == "black":
        return np.zeros(image.shape, np.float32)
    if kind == "blur":
        sigma = default_blur_sigma(image.shape[:2]) if blur_sigma is None else blur_sigma
        return gaussian_blur(image, sigma)
    if kind == "mean":
        return np.broadcast_to(image.reshape(-1, image.shape[-1]).mean(0), image.shape).astype(np.float32)
    raise ValueError(f"unknown substrate {kind!r}; choose one of {', '.join(SUBSTRATES)}")


# ---------------------------------------------------------------------------------------------
# Deletion / insertion
# ---------------------------------------------------------------------------------------------


def pixel_order(attribution: np.ndarray) -> np.ndarray:
    """Flat pixel indices, most important first; ties go to the lower (row-major) index."""
    flat = np.asarray(attribution, np.float64).ravel()
    if not np.all(np.isfinite(flat)):
        raise ValueError("attribution map has NaN or infinite values")
    return np.argsort(-flat, kind="stable")


def pixel_counts(n_pixels: int, steps: int) -> np.ndarray:
    """How many pixels are changed at each of the ``steps + 1`` points (0 .. all)."""
    if steps < 1:
        raise ValueError("deletion/insertion needs at least 1 step")
    return np.round(np.linspace(0, n_pixels, steps + 1)).astype(np.int64)


def auc(fractions: np.ndarray, values: np.ndarray) -> float:
    """Trapezoid area under ``values`` over ``fractions`` (which span [0, 1])."""
    fractions = np.asarray(fractions, np.float64)
    values = np.asarray(values, np.float64)
    return float(np.sum((values[1:] + values[:-1]) * np.diff(fractions)) / 2)


class _Evaluator:
    """Builds the perturbed images of several pixel orders and evaluates them in batches,
    with progress and cancel; rows of different orders and classes share batches."""

    def __init__(self, image, classifier, steps, batch_size, substrate_deletion,
                 substrate_insertion, blur_sigma, counter, cancel):
        image = np.asarray(image)
        if image.ndim != 3:
            raise ValueError("expected an (H, W, C) image")
        if batch_size < 1:
            raise ValueError("batch size must be at least 1")
        self.image = image.astype(np.float32)
        self.classifier = classifier
        self.counts = pixel_counts(image.shape[0] * image.shape[1], steps)
        self.fractions = self.counts / self.counts[-1]
        self.deleted = substrate(image, substrate_deletion, blur_sigma)
        self.start = substrate(image, substrate_insertion, blur_sigma)
        self.batch_size = batch_size
        self.counter = counter
        self.cancel = cancel or CancelToken()

    def rank_map(self, order):
        """Each pixel's place in ``order``; point i of a curve changes the pixels ranked
        below counts[i]."""
        rank = np.empty(order.size, np.int64)
        rank[order] = np.arange(order.size)
        return rank.reshape(self.image.shape[:2])

    def probabilities(self, ranks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities (all classes) along deletion and insertion for each rank map:
        arrays (len(ranks), S + 1, classes)."""
        jobs = [(mode, r, i) for r in range(len(ranks)) for mode in (0, 1)
                for i in range(len(self.counts))]
        out = None
        for start in range(0, len(jobs), self.batch_size):
            self.cancel.raise_if_cancelled()
            batch = jobs[start:start + self.batch_size]
            images = np.empty((len(batch), *self.image.shape), np.float32)
            for j, (mode, r, i) in enumerate(batch):
                changed = (ranks[r] < self.counts[i])[..., None]
                if mode == 0:  # deletion: changed pixels take the substrate
                    images[j] = np.where(changed, self.deleted, self.image)
                else:  # insertion: changed pixels are the original, the rest the start
                    images[j] = np.where(changed, self.image, self.start)
            probs = np.asarray(self.classifier.predict(images), np.float64)
            if out is None:
                out = np.empty((len(ranks), 2, len(self.counts), probs.shape[1]))
            for j, (mode, r, i) in enumerate(batch):
                out[r, mode, i] = probs[j]
            if self.counter is not None:
                self.counter.add(len(batch))
        return out[:, 0], out[:, 1]

    def curves(self, deletion, insertion) -> FaithfulnessCurves:
        return FaithfulnessCurves(self.fractions.astype(np.float32), deletion.astype(np.float32),
                                  insertion.astype(np.float32), auc(self.fractions, deletion),
                                  auc(self.fractions, insertion))


def deletion_insertion(image: np.ndarray, classifier, target: int, attribution: np.ndarray,
                       steps: int = DEFAULT_STEPS, batch_size: int = DEFAULT_BATCH,
                       substrate_deletion: str = "black", substrate_insertion: str = "blur",
                       blur_sigma: float | None = None, progress: ProgressFn | None = None,
                       cancel: CancelToken | None = None) -> FaithfulnessCurves:
    """Deletion and insertion curves of ``attribution`` (H, W) for class ``target``.

    ``2 * (steps + 1)`` model evaluations; pixels are counted at
    ``round(linspace(0, H*W, steps + 1))``.
    """
    attribution = np.asarray(attribution)
    if attribution.shape != np.asarray(image).shape[:2]:
        raise ValueError(f"attribution is {attribution.shape}, image is {np.asarray(image).shape[:2]}")
    counter = ProgressCounter(progress, 2 * (steps + 1), "Deletion/insertion") if progress else None
    evaluator = _Evaluator(image, classifier, steps, batch_size, substrate_deletion,
                           substrate_insertion, blur_sigma, counter, cancel)
    deletion, insertion = evaluator.probabilities([evaluator.rank_map(pixel_order(attribution))])
    if counter is not None:
        counter.finish()
    return evaluator.curves(deletion[0, :, target], insertion[0, :, target])


def random_attribution(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape)


def random_baseline(image: np.ndarray, classifier, target: int, steps: int = DEFAULT_STEPS,
                    batch_size: int = DEFAULT_BATCH, substrate_deletion: str = "black",
                    substrate_insertion: str = "blur", blur_sigma: float | None = None,
                    seed: int = 0, progress: ProgressFn | None = None,
                    cancel: CancelToken | None = None) -> FaithfulnessCurves:
    """The same curves for a random pixel order (seeded): what an explanation must beat.
    Its ``deletion_auc`` / ``insertion_auc`` are the random deletion / insertion AUCs."""
    return deletion_insertion(image, classifier, target,
                              random_attribution(np.asarray(image).shape[:2], seed), steps,
                              batch_size, substrate_deletion, substrate_insertion, blur_sigma,
                              progress, cancel)


def faithfulness(image: np.ndarray, classifier, explanation, steps: int = DEFAULT_STEPS,
                 batch_size: int = DEFAULT_BATCH, substrate_deletion: str = "black",
                 substrate_insertion: str = "blur", blur_sigma: float | None = None,
                 seed: int = 0, progress: ProgressFn = no_progress,
                 cancel: CancelToken | None = None) -> dict:
    """Deletion/insertion AUCs of every map of ``explanation``, beside a random order's.

    Returns lists with one number per explained class, in ``explanation.classes`` order:
    ``deletion_auc``, ``insertion_auc``, ``random_deletion_auc``, ``random_insertion_auc``
    (plain floats, ready for JSON), the settings used, and the curves as float32 arrays:
    ``fractions`` (S + 1,) and ``deletion_curves``, ``insertion_curves``,
    ``random_deletion_curves``, ``random_insertion_curves`` (K, S + 1). The random order is
    the same for every class, so its images are evaluated once: (2K + 2)(S + 1) evaluations.
    """
    image = explanation.image if image is None else np.asarray(image)
    maps = np.asarray(explanation.maps)
    if maps.shape[1:] != image.shape[:2]:
        raise ValueError(f"maps are {maps.shape[1:]}, image is {image.shape[:2]}")
    classes = list(explanation.classes)
    counter = ProgressCounter(progress, (2 * len(classes) + 2) * (steps + 1), "Faithfulness")
    evaluator = _Evaluator(image, classifier, steps, batch_size, substrate_deletion,
                           substrate_insertion, blur_sigma, counter, cancel)
    ranks = [evaluator.rank_map(pixel_order(m)) for m in maps]
    ranks.append(evaluator.rank_map(pixel_order(random_attribution(image.shape[:2], seed))))
    deletion, insertion = evaluator.probabilities(ranks)
    counter.finish()
    curves = [evaluator.curves(deletion[i, :, c], insertion[i, :, c]) for i, c in enumerate(classes)]
    random = [evaluator.curves(deletion[-1, :, c], insertion[-1, :, c]) for c in classes]
    return {
        "deletion_auc": [c.deletion_auc for c in curves],
        "insertion_auc": [c.insertion_auc for c in curves],
        "random_deletion_auc": [c.deletion_auc for c in random],
        "random_insertion_auc": [c.insertion_auc for c in random],
        "classes": [int(c) for c in classes],
        "steps": int(steps),
        "substrate_deletion": substrate_deletion,
        "substrate_insertion": substrate_insertion,
        "blur_sigma": float(default_blur_sigma(image.shape[:2]) if blur_sigma is None else blur_sigma),
        "seed": int(seed),
        "model_evaluations": int(counter.done),
        "fractions": evaluator.fractions.astype(np.float32),
        "deletion_curves": np.stack([c.deletion for c in curves]),
        "insertion_curves": np.stack([c.insertion for c in curves]),
        "random_deletion_curves": np.stack([c.deletion for c in random]),
        "random_insertion_curves": np.stack([c.insertion for c in random]),
    }


def json_summary(result: dict) -> dict:
    """The plain (JSON-ready) part of a ``faithfulness`` result: everything but the curves."""
    return {k: v for k, v in result.items() if not isinstance(v, np.ndarray)}


# ---------------------------------------------------------------------------------------------
# Agreement and stability
# ---------------------------------------------------------------------------------------------


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions), as scipy's rankdata does."""
    flat = np.asarray(values, np.float64).ravel()
    sorter = np.argsort(flat, kind="stable")
    inverse = np.empty(flat.size, np.int64)
    inverse[sorter] = np.arange(flat.size)
    ordered = flat[sorter]
    starts = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    group = np.cumsum(starts)[inverse]  # 1-based tie group of each value
    bounds = np.concatenate([np.flatnonzero(starts), [flat.size]])
    return 0.5 * (bounds[group] + bounds[group - 1] + 1)


def _correlation_of_ranks(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    norm = math.sqrt(float(a @ a) * float(b @ b))
    if norm == 0:
        # A constant map ranks nothing: two of them agree fully, one alone not at all.
        return 1.0 if float(a @ a) == float(b @ b) == 0 else 0.0
    return float(np.clip((a @ b) / norm, -1.0, 1.0))


def rank_correlation(map_a: np.ndarray, map_b: np.ndarray) -> float:
    """Spearman rank correlation of two maps of the same shape, in [-1, 1]
    (1 for identical orderings, -1 for reversed; two constant maps give 1, one gives 0)."""
    map_a, map_b = np.asarray(map_a), np.asarray(map_b)
    if map_a.shape != map_b.shape:
        raise ValueError(f"maps differ in shape: {map_a.shape} vs {map_b.shape}")
    return _correlation_of_ranks(_ranks(map_a), _ranks(map_b))


def top_pixels(attribution: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask of the ``ceil(fraction * pixels)`` highest pixels (ties: row-major first)."""
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    order = pixel_order(attribution)
    mask = np.zeros(order.size, bool)
    mask[order[: max(1, int(math.ceil(fraction * order.size - 1e-9)))]] = True
    return mask.reshape(np.shape(attribution))


def top_overlap(map_a: np.ndarray, map_b: np.ndarray, fraction: float = 0.1) -> float:
    """Intersection over union of the two maps' top ``fraction`` pixel sets, in [0, 1]."""
    map_a, map_b = np.asarray(map_a), np.asarray(map_b)
    if map_a.shape != map_b.shape:
        raise ValueError(f"maps differ in shape: {map_a.shape} vs {map_b.shape}")
    a, b = top_pixels(map_a, fraction), top_pixels(map_b, fraction)
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


def stability(maps: np.ndarray) -> tuple[np.ndarray, float]:
    """Spread and agreement of repeated runs' maps (R, H, W), R >= 2.

    Returns the per-pixel standard deviation (H, W) float32 and a score in [0, 1]: the mean
    pairwise Spearman rank correlation, negative values counted as 0 (1: every run ranks
    the pixels the same way).
    """
    maps = np.asarray(maps, np.float64)
    if maps.ndim != 3 or len(maps) < 2:
        raise ValueError("stability needs at least two maps, as an (R, H, W) array")
    spread = maps.std(axis=0).astype(np.float32)
    ranks = [_ranks(m) for m in maps]
    pairs = [_correlation_of_ranks(ranks[i], ranks[j])
             for i, j in combinations(range(len(maps)), 2)]
    return spread, float(np.clip(np.mean(pairs), 0.0, 1.0))
