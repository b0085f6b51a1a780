"""Explanations with random maps, for tests of how figures are drawn (not what they mean)."""

from __future__ import annotations

import numpy as np

from engine.jobs import Explanation


def random_explanation(method: str, seed: int, classes: list[int], class_names: list[str],
                       probabilities: list[float], image_seed: int | None = None,
                       size: int = 32) -> Explanation:
    """One ``method``'s explanation of a random ``size``² image for ``classes``: LIME gets a
    4×4 grid of segments with their weights, Grad-CAM non-negative maps, as those methods give.
    ``image_seed``: the image's own seed (the same photo behind several methods)."""
    rng = np.random.default_rng(seed)
    maps = rng.normal(size=(len(classes), size, size)).astype(np.float32)
    extras = {}
    if method == "lime":
        cell = size // 4
        segments = (np.arange(size)[:, None] // cell) * 4 + np.arange(size)[None, :] // cell
        weights = rng.normal(size=(len(classes), 16)).astype(np.float32)
        maps, extras = weights[:, segments], {"segments": segments.astype(np.int32), "segment_weights": weights}
    if method == "gradcam":
        maps = np.abs(maps)
    image_rng = rng if image_seed is None else np.random.default_rng(image_seed)
    return Explanation(method=method, image=image_rng.integers(0, 255, (size, size, 3), dtype=np.uint8),
                       classes=list(classes), class_names=list(class_names), probabilities=list(probabilities),
                       maps=maps, params={}, timings={}, versions={}, model="test", extras=extras)
