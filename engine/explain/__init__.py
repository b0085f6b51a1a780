"""Explain methods, one module each, all with the same contract:

``explain(image_uint8, classifier, targets, params, progress, cancel) -> Explanation``
"""

from __future__ import annotations

from engine.explain import (gradcam, integrated_gradients, lime_image, shap_gradient,
                            shap_partition)

METHODS = {
    "shap": (shap_partition.explain, shap_partition.ShapParams),
    "lime": (lime_image.explain, lime_image.LimeParams),
    "shap-gradient": (shap_gradient.explain, shap_gradient.ShapGradientParams),
    "gradcam": (gradcam.explain, gradcam.GradCamParams),
    "ig": (integrated_gradients.explain, integrated_gradients.IntegratedGradientsParams),
}


GRADIENT_METHODS = ("gradcam", "ig", "shap-gradient")  # need the model's gradients


def refuse_without_gradients(method: str, classifier) -> None:
    """One clear line when ``method`` needs gradients the classifier cannot give (ONNX)."""
    from engine.errors import ModelError

    if method in GRADIENT_METHODS and not getattr(classifier, "supports_gradients", True):
        raise ModelError(f"{method} needs gradients; {classifier.gradient_note}")


def run(method: str, image, classifier, targets, params=None, progress=None, cancel=None):
    """Run one method by name; ``params`` may be None for the method's defaults."""
    from engine.jobs import no_progress

    try:
        function, params_type = METHODS[method]
    except KeyError:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}") from None
    refuse_without_gradients(method, classifier)
    return function(image, classifier, targets, params or params_type(),
                    progress or no_progress, cancel)
