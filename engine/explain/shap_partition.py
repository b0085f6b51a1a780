"""SHAP Partition explainer over image regions, as in the seed recipe.

``shap.maskers.Image`` hides hierarchical blocks of pixels by inpainting or blurring, and the
Partition explainer attributes the class probability to those blocks (Owen values).
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass

import numpy as np

from engine.explain.common import check_image, check_targets, make_explanation
from engine.explain.guard import GuardedPredict
from engine.jobs import CancelToken, Explanation, ProgressCounter, ProgressFn, no_progress

MASKERS = ("inpaint_telea", "inpaint_ns", "blur(k,k)")
_BLUR = re.compile(r"^blur\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


@dataclass
class ShapParams:
    masker: str = "inpaint_telea"
    max_evals: int = 500
    batch_size: int = 50

    def validate(self) -> None:
        if self.masker not in ("inpaint_telea", "inpaint_ns") and not _BLUR.match(self.masker):
            raise ValueError(f"unknown SHAP masker {self.masker!r}: use inpaint_telea, inpaint_ns or blur(k,k)")
        if self.max_evals < 10:
            raise ValueError("SHAP max evals must be at least 10")
        if self.batch_size < 1:
            raise ValueError("SHAP batch size must be at least 1")


def explain(image: np.ndarray, classifier, targets, params: ShapParams | None = None,
            progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> Explanation:
    import shap

    params = params or ShapParams()
    params.validate()
    image = check_image(image, classifier)
    targets = check_targets(targets, classifier)
    started = time.perf_counter()
    # Partition evaluates the empty and full masks, then up to max_evals - 2 coalitions.
    counter = ProgressCounter(progress, params.max_evals, "SHAP")
    predict = GuardedPredict(classifier, counter, cancel)
    masker = shap.maskers.Image(params.masker.replace(" ", ""), image.shape)
    explainer = shap.explainers.Partition(predict, masker, output_names=classifier.class_names)
    result = explainer(image[None], max_evals=params.max_evals, batch_size=params.batch_size,
                       outputs=np.array(targets), silent=True)
    counter.finish()
    values = np.moveaxis(np.asarray(result.values[0], dtype=np.float32), -1, 0)  # (K, H, W, C)
    maps = values.sum(axis=-1)  # per-pixel attribution, as shap.image_plot shows it
    return make_explanation("shap", image, classifier, targets, maps, asdict(params),
                            time.perf_counter() - started, predict.evaluations,
                            extras={"values": values,
                                    "base_values": np.asarray(result.base_values[0], np.float32)})
