"""SHAP Partition explainer over image regions, as in the seed recipe.

``shap.maskers.Image`` hides hierarchical blocks of pixels by inpainting or blurring, and the
Partition explainer attributes the class probability to those blocks (Owen values).

Speed without changing the numbers: shap builds each masked image one after another on one
core (``cv2.inpaint`` is most of SHAP's own time). Here the masker hands shap the mask itself,
and the model wrapper builds a whole batch of masked images at once on every core, with the
very same masking code, before one compiled forward pass. shap's compiled helpers load from
numba's disk cache (``shap_compiled``) instead of compiling in every process.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from engine.explain.common import checked_inputs, make_explanation
from engine.explain.guard import GuardedPredict
from engine.explain.parallel import pool
from engine.jobs import CancelToken, Explanation, ProgressCounter, ProgressFn, no_progress

MASKERS = ("inpaint_telea", "inpaint_ns", "blur(k,k)")
_BLUR = re.compile(r"^blur\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
MAX_BLUR_KERNEL = 1024  # a box blur wider than any model input only costs time


def blur_kernel(masker: str) -> tuple[int, int] | None:
    """(kx, ky) of a ``blur(kx,ky)`` masker, None for the inpainting maskers."""
    found = _BLUR.match(masker.strip())
    return (int(found[1]), int(found[2])) if found else None


def check_blur_fits(masker: str, size: tuple[int, int]) -> None:
    """A blur kernel must fit the (height, width) image it blurs: ValueError otherwise."""
    kernel = blur_kernel(masker)
    if kernel and (kernel[0] > size[1] or kernel[1] > size[0]):
        raise ValueError(f"SHAP masker {masker}: the blur kernel is larger than the model's "
                         f"{size[0]}×{size[1]} input")


@dataclass
class ShapParams:
    masker: str = "inpaint_telea"
    max_evals: int = 500
    batch_size: int = 50

    def validate(self) -> None:
        if self.masker not in ("inpaint_telea", "inpaint_ns") and not _BLUR.match(self.masker):
            raise ValueError(f"unknown SHAP masker {self.masker!r}: use inpaint_telea, inpaint_ns or blur(k,k)")
        kernel = blur_kernel(self.masker)
        if kernel and not all(1 <= k <= MAX_BLUR_KERNEL for k in kernel):
            raise ValueError(f"SHAP masker {self.masker}: blur kernel sizes must be 1 to {MAX_BLUR_KERNEL}")
        if self.max_evals < 10:
            raise ValueError("SHAP max evals must be at least 10")
        if self.batch_size < 1:
            raise ValueError("SHAP batch size must be at least 1")


def explain(image: np.ndarray, classifier, targets, params: ShapParams | None = None,
            progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> Explanation:
    import shap

    from engine.explain import shap_compiled

    shap_compiled.install()
    image, targets, params = checked_inputs(image, classifier, targets, params, ShapParams)
    check_blur_fits(params.masker, image.shape[:2])
    started = time.perf_counter()
    # Partition evaluates the empty and full masks, then up to max_evals - 2 coalitions.
    counter = ProgressCounter(progress, params.max_evals, "SHAP")
    predict = GuardedPredict(classifier, counter, cancel)
    masker_name = params.masker.replace(" ", "")
    masked_model = _ParallelMaskedModel(_masker(masker_name, image.shape), image, predict)
    explainer = shap.explainers.Partition(masked_model, _deferred_masker(masker_name, image.shape),
                                          output_names=classifier.class_names)
    result = explainer(image[None], max_evals=params.max_evals, batch_size=params.batch_size,
                       outputs=np.array(targets), silent=True)
    counter.finish()
    values = np.moveaxis(np.asarray(result.values[0], dtype=np.float32), -1, 0)  # (K, H, W, C)
    maps = values.sum(axis=-1)  # per-pixel attribution, as shap.image_plot shows it
    return make_explanation("shap", image, classifier, targets, maps, asdict(params),
                            time.perf_counter() - started, predict.evaluations,
                            extras={"values": values,
                                    "base_values": np.asarray(result.base_values[0], np.float32)})


@lru_cache(maxsize=8)
def _masker(name: str, shape: tuple):
    """shap's own Image masker, kept per shape: building its partition tree takes time."""
    import shap

    return shap.maskers.Image(name, shape)


@lru_cache(maxsize=8)
def _deferred_masker(name: str, shape: tuple):
    import shap

    class DeferredImageMasker(shap.maskers.Image):
        """Same partition tree and mask shapes as shap's masker, but returns the mask itself;
        ``_ParallelMaskedModel`` turns masks into images later, a batch at a time."""

        def __call__(self, mask, x):
            return (np.asarray(mask, dtype=bool).reshape(1, -1).copy(),)

    return DeferredImageMasker(name, shape)


class _ParallelMaskedModel:
    """Called by shap with a batch of masks (B, H*W*C); builds the masked images in parallel
    with shap's own masking code, then evaluates the model once on the batch."""

    def __init__(self, masker, image: np.ndarray, predict):
        import cv2

        self._masker = masker
        self._image = image
        self._flat = image.ravel()
        self._predict = predict
        # shap caches the blurred image in the masker by id(); compute it once here instead,
        # so threads never race on that cache. Same formula, same pixels.
        self._blurred = (cv2.blur(image, masker.blur_kernel).ravel()
                         if masker.blur_kernel is not None else None)
        # Telea inpainting: the same pixels as shap's cv2.inpaint call, in less time.
        self._telea = masker.mask_value == "inpaint_telea" and image.dtype == np.uint8 \
            and image.ndim == 3 and image.shape[2] == 3
        if self._telea:
            from engine.explain import telea  # numba: imported on first use, not at start-up

            telea.warm_up()
            self._fill = telea.shap_masked_image

    def _masked_image(self, mask: np.ndarray) -> np.ndarray:
        if self._blurred is not None:
            out = self._flat.copy()
            out[~mask] = self._blurred[~mask]
            return out
        if self._telea:
            out = self._fill(self._image, mask)
            if out is not None:
                return out
        return self._masker(mask, self._flat)[0].reshape(-1)

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks, dtype=bool)
        if len(masks) > 1:
            images = list(pool().map(self._masked_image, masks))
        else:
            images = [self._masked_image(m) for m in masks]
        return self._predict(np.stack(images).reshape(len(masks), *self._image.shape))
