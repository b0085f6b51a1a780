"""Pieces every explain method shares: targets, metadata, timing."""

from __future__ import annotations

import platform
from importlib import metadata

import numpy as np

from engine.jobs import Explanation


def library_versions(classifier=None) -> dict:
    """Versions of what computed a result. A classifier without Keras (ONNX) names the
    runtime that ran it instead, and never imports Keras just to say which backend it is."""
    from engine.backend import backend_name, backend_version

    uses_keras = getattr(classifier, "supports_gradients", True)
    from engine import __version__

    versions = {"image_explainer": __version__, "python": platform.python_version()}
    packages = ("keras", "shap", "lime", "numpy") if uses_keras else ("onnx", "openvino", "shap", "lime", "numpy")
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    versions["backend"] = (backend_version() if backend_name() else None) if uses_keras else None
    return versions


def make_explanation(method: str, image: np.ndarray, classifier, targets: list[int],
                     maps: np.ndarray, params: dict, explain_s: float, evaluations: int,
                     extras: dict | None = None) -> Explanation:
    probabilities = classifier.predict(image[None])[0]
    return Explanation(
        method=method,
        image=image,
        classes=[int(t) for t in targets],
        class_names=[classifier.class_names[t] for t in targets],
        probabilities=[float(probabilities[t]) for t in targets],
        maps=np.asarray(maps, dtype=np.float32),
        params=params,
        timings={"explain_s": explain_s, "model_evaluations": evaluations},
        versions=library_versions(classifier),
        model=classifier.label,
        untrained=classifier.untrained,
        extras=extras or {},
        head=str(getattr(getattr(classifier, "head_kind", ""), "value", "")),
    )


def check_targets(targets, classifier) -> list[int]:
    targets = [int(t) for t in targets]
    if not targets:
        raise ValueError("no classes to explain")
    for t in targets:
        if not 0 <= t < classifier.num_classes:
            raise ValueError(f"class index {t} out of range (model has {classifier.num_classes})")
    return targets


def check_image(image: np.ndarray, classifier) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("expected an RGB uint8 image (H, W, 3)")
    if tuple(image.shape[:2]) != tuple(classifier.input_size):
        raise ValueError(f"image is {image.shape[:2]}, model input is {classifier.input_size}")
    return np.ascontiguousarray(image)


def checked_inputs(image: np.ndarray, classifier, targets, params, params_type):
    """Every method's first step: its parameters (defaults when None) validated, the image
    checked against the model input, the target classes checked against the model."""
    params = params or params_type()
    params.validate()
    return check_image(image, classifier), check_targets(targets, classifier), params
