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


def run(method: str, image, classifier, targets, params=None, progress=None, cancel=None):
    """Run one method by name; ``params`` may be None for the method's defaults."""
    from engine.jobs import no_progress

    try:
        function, params_type = METHODS[method]
    except KeyError:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}") from None
    return function(image, classifier, targets, params or params_type(),
                    progress or no_progress, cancel)
