"""Grad-CAM (Selvaraju et al. 2017): where the last convolutional feature map says "class".

Each channel of the layer's activations A is weighted by the spatial mean of the class
score's gradient with respect to it; the weighted sum, ReLU'd, is the class activation map.
It is coarse (the layer's resolution, 7×7 for ResNet-50), so it is upsampled bilinearly to
the model's input size. The class score is the pre-softmax logit where the model ends in a
softmax (see ``engine.backend``). The layer is found automatically (the last 4-D feature map
before global pooling or flatten) unless ``GradCamParams.layer`` names one.

Speed: the layer's activations are computed once per image and shared by all target
classes, and only the small head after the layer is differentiated, so K classes cost about
one forward pass. The compiled function is kept per classifier, so a second call is warm.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from engine.explain.common import checked_inputs, make_explanation
from engine.jobs import CancelToken, Explanation, ProgressCounter, ProgressFn, no_progress

# Targets explained per pass: each extra target costs one pass through the head only.
TARGETS_PER_PASS = 16


@dataclass
class GradCamParams:
    layer: str | None = None  # None: the last 4-D feature map before pooling / flatten

    def validate(self) -> None:
        if self.layer is not None and (not isinstance(self.layer, str) or not self.layer.strip()):
            raise ValueError("Grad-CAM layer must be a layer name (or empty for automatic)")


def explain(image: np.ndarray, classifier, targets, params: GradCamParams | None = None,
            progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> Explanation:
    from engine.backend import cached_gradient, find_gradcam_layer

    image, targets, params = checked_inputs(image, classifier, targets, params, GradCamParams)
    cancel = cancel or CancelToken()
    started = time.perf_counter()
    layer = params.layer or find_gradcam_layer(classifier.keras_model,
                                               getattr(classifier, "head_kind", None))
    gradient = cached_gradient(classifier, layer, wrt_input=False)
    pixels = model_pixels(image, classifier)[None]
    batches = [targets[i:i + TARGETS_PER_PASS] for i in range(0, len(targets), TARGETS_PER_PASS)]
    counter = ProgressCounter(progress, len(batches), "Grad-CAM")
    cams = []
    for batch in batches:
        cancel.raise_if_cancelled()
        result = gradient(pixels, np.array([batch]))
        cams.append(class_activation_maps(result.activations[0], result.activation_grads[0]))
        counter.add(1)
    counter.finish()
    cams = np.concatenate(cams)  # (K, h, w)
    maps = np.stack([resize_bilinear(cam, classifier.input_size) for cam in cams])
    return make_explanation("gradcam", image, classifier, targets, maps, {"layer": layer},
                            time.perf_counter() - started, len(batches),
                            extras={"cam": cams.astype(np.float32)})


def class_activation_maps(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """Grad-CAM from one image's activations (h, w, c) and K targets' gradients (K, h, w, c):
    ReLU(sum_c mean_hw(dS/dA_c) * A_c), as (K, h, w) float32."""
    weights = gradients.mean(axis=(1, 2))  # (K, c)
    cams = np.einsum("hwc,kc->khw", activations, weights)
    return np.maximum(cams, 0).astype(np.float32)


def resize_bilinear(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a 2-D map with half-pixel centres (as ``tf.image.resize`` and
    OpenCV do, no antialiasing): two small interpolation matrices, exact and dependency-free."""
    rows = _interpolation_matrix(values.shape[0], size[0])
    cols = _interpolation_matrix(values.shape[1], size[1])
    return (rows @ values.astype(np.float64) @ cols.T).astype(np.float32)


def _interpolation_matrix(source: int, target: int) -> np.ndarray:
    centres = (np.arange(target) + 0.5) * source / target - 0.5
    centres = np.clip(centres, 0, source - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, source - 1)
    frac = centres - low
    matrix = np.zeros((target, source))
    matrix[np.arange(target), low] += 1 - frac
    matrix[np.arange(target), high] += frac
    return matrix


def model_pixels(images: np.ndarray, classifier) -> np.ndarray:
    """Pixels as the model takes them: grey models get the same luma mix as ``predict``."""
    if getattr(classifier, "channels", 3) == 1 and images.shape[-1] == 3:
        return (images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    return images
