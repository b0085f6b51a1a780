"""How faithful and how consistent explanations are: plain numpy and ``classifier.predict``.

Faithfulness, the score (``faithfulness``): every map is averaged onto one grid of cells
(16 px at 224 px), the same cells for every method, and cells are replaced by a blurred copy
of the image most relevant first (MoRF) and least relevant first (LeRF). A faithful map makes
the class fall fast under MoRF and slowly under LeRF; the score is the gap between the two
areas (symmetric relevance gain, Blücher et al. 2024). Removing whole cells into a blur keeps
the images close to natural ones, and what the removal itself does to the model hits both
orders alike and cancels; random orders of the same cells give the band to beat.

Per-pixel deletion / insertion (Petsiuk et al. 2018, RISE; ``deletion_insertion``) is kept as
a detail: pixels taken in the map's order, deletion to a substrate (black by default, a fast
fall is good), insertion from a blurred copy (a fast rise is good). Per-pixel removal makes
salt-and-pepper images no model was trained on, so a random pixel order there is not a fair
reference and it is never the score.

Agreement between two maps: Spearman rank correlation and the overlap (IoU) of their top
pixels. Stability of repeated runs: the per-pixel spread and the mean pairwise rank
correlation.
"""

from __future__ import annotations

import hashlib
import math
import weakref
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


# ---------------------------------------------------------------------------------------------
# Cell-level faithfulness: MoRF / LeRF, symmetric relevance gain, random band
# ---------------------------------------------------------------------------------------------

CELL_PX_AT_224 = 16  # 14 × 14 = 196 cells at 224 px
DEFAULT_CELL_STEPS = 20
DEFAULT_RANDOM_ORDERS = 10
DEFAULT_PIXEL_STEPS = 8  # the per-pixel AUCs are a detail: a coarse curve is enough
CELL_SUBSTRATE = "blur"
BAND_WIDTH_SD = 2.0  # better than random: above the random orders' mean + 2 sd


def cell_size(size: tuple[int, int]) -> int:
    """Cell side in pixels: 16 at 224 px, scaled with the smaller side of the input."""
    return max(1, int(round(CELL_PX_AT_224 * min(size) / 224)))


def cell_blur_sigma(cell_px: int) -> float:
    """The blur that removed cells become: a spread of one cell, so a removed cell keeps its
    neighbourhood's colours and none of its own detail. (RISE's milder pixel-level blur,
    about 4.5 px at 224, leaves a 16-pixel cell recognisable: on a trained network the class
    barely falls when the most relevant cells go, and no map beats random orders.)"""
    return float(cell_px)


def cell_grid(shape: tuple[int, int], cell_px: int) -> np.ndarray:
    """(H, W) int: the cell each pixel belongs to, row-major; edge cells may be smaller."""
    rows = np.arange(shape[0]) // cell_px
    cols = np.arange(shape[1]) // cell_px
    return rows[:, None] * (int(cols[-1]) + 1) + cols[None, :]


def cell_means(attribution: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Each cell's mean attribution: every method is ranked at the same granularity."""
    flat = np.asarray(attribution, np.float64).ravel()
    if not np.all(np.isfinite(flat)):
        raise ValueError("attribution map has NaN or infinite values")
    ids = grid.ravel()
    return np.bincount(ids, flat) / np.bincount(ids)


def cell_counts(n_cells: int, steps: int) -> np.ndarray:
    """How many cells are removed at each of the ``steps + 1`` points (0 .. all)."""
    if steps < 2:
        raise ValueError("MoRF/LeRF curves need at least 2 steps")
    return np.round(np.linspace(0, n_cells, steps + 1)).astype(np.int64)


def cell_orders(means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(most relevant first, least relevant first); ties keep row-major order in both, so a
    constant map scores exactly 0."""
    return np.argsort(-means, kind="stable"), np.argsort(means, kind="stable")


@dataclass
class RandomBand:
    """Curves of random cell orders for one image, every class at once (the perturbed
    images do not depend on the class): what any map must beat."""

    probabilities: np.ndarray  # (R, 2, S + 1, classes): MoRF, LeRF (the reversed order)
    fractions: np.ndarray  # (S + 1,)

    def curves(self, target: int, p0: float) -> tuple[np.ndarray, np.ndarray]:
        """Normalised MoRF and LeRF curves (R, S + 1) each for class ``target``."""
        ratio = np.clip(self.probabilities[..., target] / max(p0, 1e-12), 0.0, 1.0)
        return ratio[:, 0], ratio[:, 1]

    def srg(self, target: int, p0: float) -> np.ndarray:
        morf, lerf = self.curves(target, p0)
        return np.array([auc(self.fractions, lerf[r]) - auc(self.fractions, morf[r])
                         for r in range(len(morf))])


# One band per image and settings, shared by every method scored on it; kept as long as the
# classifier lives (its weights are part of the answer).
_BANDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_BANDS_PER_CLASSIFIER = 16


def _band_key(image: np.ndarray, cell_px: int, steps: int, sigma: float, orders: int, seed: int):
    digest = hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).hexdigest()
    return digest, image.shape, cell_px, steps, round(sigma, 6), orders, seed


def forget_random_bands(classifier) -> None:
    """Drop the cached random bands of ``classifier`` (after its weights change)."""
    _BANDS.pop(classifier, None)


class _CellEvaluator:
    """Perturbed images of several cell orders, evaluated in shared batches with progress
    and cancel (checked once per batch)."""

    def __init__(self, image, classifier, cell_px, steps, blur_sigma, batch_size, counter, cancel):
        if batch_size < 1:
            raise ValueError("batch size must be at least 1")
        self.image = np.asarray(image, np.float32)
        self.classifier = classifier
        self.grid = cell_grid(self.image.shape[:2], cell_px)
        self.n_cells = int(self.grid.max()) + 1
        self.counts = cell_counts(self.n_cells, steps)
        self.fractions = self.counts / self.n_cells
        self.blurred = substrate(image, CELL_SUBSTRATE, blur_sigma)
        self.batch_size = batch_size
        self.counter = counter
        self.cancel = cancel or CancelToken()

    def ends(self) -> np.ndarray:
        """Probabilities of the image and of its fully blurred copy (2, classes): the first
        and last point of every curve, evaluated once."""
        return self._predict([self.image, self.blurred])

    def curves(self, orders: list[np.ndarray], ends: np.ndarray) -> np.ndarray:
        """Probabilities (len(orders), S + 1, classes) as cells are removed in each order."""
        interior = range(1, len(self.counts) - 1)
        jobs = [(o, i) for o in range(len(orders)) for i in interior]
        ranks = []
        for order in orders:
            rank = np.empty(self.n_cells, np.int64)
            rank[order] = np.arange(self.n_cells)
            ranks.append(rank[self.grid])  # (H, W): each pixel's cell's place in the order
        out = np.empty((len(orders), len(self.counts), ends.shape[1]))
        out[:, 0], out[:, -1] = ends[0], ends[1]
        for start in range(0, len(jobs), self.batch_size):
            batch = jobs[start:start + self.batch_size]
            images = [np.where((ranks[o] < self.counts[i])[..., None], self.blurred, self.image)
                      for o, i in batch]
            probs = self._predict(images)
            for j, (o, i) in enumerate(batch):
                out[o, i] = probs[j]
        return out

    def _predict(self, images) -> np.ndarray:
        self.cancel.raise_if_cancelled()
        probs = np.asarray(self.classifier.predict(np.stack(images)), np.float64)
        if self.counter is not None:
            self.counter.add(len(images))
        return probs


def faithfulness_evaluations(classes: int, steps: int = DEFAULT_CELL_STEPS,
                             random_orders: int = DEFAULT_RANDOM_ORDERS,
                             pixel_steps: int = DEFAULT_PIXEL_STEPS, band_cached: bool = False) -> int:
    """Model evaluations ``faithfulness`` makes (at most; fewer when the band is cached)."""
    per_order = 2 * (steps - 1)
    band = 0 if band_cached else random_orders * per_order
    pixels = 2 * classes * (pixel_steps + 1) if pixel_steps > 0 else 0
    return 2 + classes * per_order + band + pixels


def faithfulness(image: np.ndarray | None, classifier, explanation, steps: int = DEFAULT_CELL_STEPS,
                 random_orders: int = DEFAULT_RANDOM_ORDERS, cell_px: int | None = None,
                 blur_sigma: float | None = None, pixel_steps: int = DEFAULT_PIXEL_STEPS,
                 batch_size: int = DEFAULT_BATCH, seed: int = 0, progress: ProgressFn = no_progress,
                 cancel: CancelToken | None = None) -> dict:
    """Cell-level faithfulness of every map of ``explanation``, beside a random band.

    Each map is averaged onto a grid of ``cell_px`` cells (``cell_size``: 16 px at 224);
    cells are replaced by a blurred copy of the image (a spread of one cell,
    ``cell_blur_sigma``, unless ``blur_sigma`` is given) most relevant first (MoRF) and least
    relevant first (LeRF) in ``steps`` steps, following p(class | perturbed) / p(class |
    image) clipped to [0, 1]. The score is the symmetric relevance gain, SRG = AUC(LeRF) −
    AUC(MoRF) in [−1, 1] (Blücher et al. 2024): what removing cells does to any image hits
    both orders alike and cancels. ``random_orders`` random permutations of the same cells
    (seeded; cached per image and classifier, so every method shares them) give
    ``random_srg_mean`` ± ``random_srg_sd`` (sample sd); ``better_than_random`` only above
    mean + 2 sd.

    ``pixel_steps`` > 0 adds the per-pixel deletion (to black) and insertion (from a blur)
    AUCs of Petsiuk et al. as ``pixel_deletion_auc`` / ``pixel_insertion_auc``: a detail,
    kept coarse because it is not the score (0 leaves them out, as ``None``).

    Lists hold one value per explained class in ``explanation.classes`` order; arrays
    (``fractions`` (S + 1,), ``morf_curves``, ``lerf_curves`` and the random orders' mean
    ``random_morf_curves``, ``random_lerf_curves`` (K, S + 1)) are left out of the JSON.
    """
    image = explanation.image if image is None else np.asarray(image)
    maps = np.asarray(explanation.maps)
    if image.ndim != 3:
        raise ValueError("expected an (H, W, C) image")
    if maps.shape[1:] != image.shape[:2]:
        raise ValueError(f"maps are {maps.shape[1:]}, image is {image.shape[:2]}")
    if random_orders < 2:
        raise ValueError("the random band needs at least 2 random orders")
    classes = [int(c) for c in explanation.classes]
    cell_px = cell_size(image.shape[:2]) if cell_px is None else int(cell_px)
    sigma = cell_blur_sigma(cell_px) if blur_sigma is None else float(blur_sigma)
    bands = _BANDS.setdefault(classifier, {})
    key = _band_key(image, cell_px, steps, sigma, random_orders, seed)
    band = bands.get(key)
    total = faithfulness_evaluations(len(classes), steps, random_orders, pixel_steps, band is not None)
    counter = ProgressCounter(progress, total, "Faithfulness")
    evaluator = _CellEvaluator(image, classifier, cell_px, steps, sigma, batch_size, counter, cancel)
    ends = evaluator.ends()
    if band is None:
        rng = np.random.default_rng(seed)
        permutations = [rng.permutation(evaluator.n_cells) for _ in range(random_orders)]
        probs = evaluator.curves(permutations + [p[::-1] for p in permutations], ends)
        band = RandomBand(np.stack([probs[:random_orders], probs[random_orders:]], 1).astype(np.float32),
                          evaluator.fractions)
        bands[key] = band
        while len(bands) > _BANDS_PER_CLASSIFIER:
            bands.pop(next(iter(bands)))
    orders = [o for m in maps for o in cell_orders(cell_means(m, evaluator.grid))]
    probs = evaluator.curves(orders, ends)
    pixels = _pixel_aucs(image, classifier, maps, classes, pixel_steps, batch_size, counter, cancel)
    counter.finish()

    result = {name: [] for name in ("srg", "morf_auc", "lerf_auc", "random_srg_mean", "random_srg_sd",
                                    "better_than_random")}
    curves = {name: [] for name in ("morf_curves", "lerf_curves", "random_morf_curves", "random_lerf_curves")}
    for k, c in enumerate(classes):
        p0 = float(ends[0, c])
        morf, lerf = (np.clip(probs[2 * k + j, :, c] / max(p0, 1e-12), 0.0, 1.0) for j in (0, 1))
        morf_auc, lerf_auc = auc(evaluator.fractions, morf), auc(evaluator.fractions, lerf)
        random_srg = band.srg(c, p0)
        mean, sd = float(random_srg.mean()), float(random_srg.std(ddof=1))
        srg = lerf_auc - morf_auc
        result["srg"].append(srg)
        result["morf_auc"].append(morf_auc)
        result["lerf_auc"].append(lerf_auc)
        result["random_srg_mean"].append(mean)
        result["random_srg_sd"].append(sd)
        result["better_than_random"].append(bool(srg > mean + BAND_WIDTH_SD * sd))
        random_morf, random_lerf = band.curves(c, p0)
        for name, curve in zip(curves, (morf, lerf, random_morf.mean(0), random_lerf.mean(0))):
            curves[name].append(curve)
    result.update({
        "classes": classes,
        "cell_px": cell_px,
        "cells": evaluator.n_cells,
        "steps": int(steps),
        "substrate": CELL_SUBSTRATE,
        "blur_sigma": sigma,
        "random_orders": int(random_orders),
        "seed": int(seed),
        "pixel_deletion_auc": pixels[0],
        "pixel_insertion_auc": pixels[1],
        "pixel_steps": int(pixel_steps),
        "model_evaluations": int(counter.done),
        "fractions": evaluator.fractions.astype(np.float32),
    })
    result.update({name: np.stack(v).astype(np.float32) for name, v in curves.items()})
    return result


def _pixel_aucs(image, classifier, maps, classes, pixel_steps, batch_size, counter, cancel):
    """Per-pixel deletion (to black) / insertion (from a blur) AUCs, or (None, None)."""
    if pixel_steps <= 0:
        return None, None
    evaluator = _Evaluator(image, classifier, pixel_steps, batch_size, "black", "blur", None,
                           counter, cancel)
    deletion, insertion = evaluator.probabilities([evaluator.rank_map(pixel_order(m)) for m in maps])
    aucs = [evaluator.curves(deletion[k, :, c], insertion[k, :, c]) for k, c in enumerate(classes)]
    return [a.deletion_auc for a in aucs], [a.insertion_auc for a in aucs]


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
