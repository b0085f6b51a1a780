"""Wall time of one image's SHAP (500 evals) + LIME (1000 samples), per masker.

    KERAS_BACKEND=jax python -m bench.one_image

The exact seed masker (inpaint_telea) beside the labelled blur(64,64) choice, on three photos,
untrained ResNet-50 (same compute as the ImageNet weights).
"""

import time

from engine.runtime import prepare_environment


def main() -> None:
    prepare_environment()
    from skimage import data

    from engine import explain
    from engine.backend import import_keras
    from engine.explain.lime_image import LimeParams
    from engine.explain.shap_partition import ShapParams
    from engine.images import fit_to_model
    from engine.models import Classifier, imagenet_class_names

    keras = import_keras()
    classifier = Classifier(keras.applications.ResNet50(weights=None), "ResNet-50",
                            imagenet_class_names(), "caffe", untrained=True)
    classifier.warm_up()
    for name in ("chelsea", "coffee", "astronaut"):
        image = fit_to_model(getattr(data, name)(), (224, 224))
        for masker in ("inpaint_telea", "blur(64,64)"):
            explain.run("shap", image, classifier, [1], ShapParams(masker=masker, max_evals=60))  # warm
            start = time.perf_counter()
            explain.run("shap", image, classifier, [1, 2, 3], ShapParams(masker=masker, max_evals=500))
            shap_s = time.perf_counter() - start
            start = time.perf_counter()
            explain.run("lime", image, classifier, [1, 2, 3, 4], LimeParams(num_samples=1000))
            lime_s = time.perf_counter() - start
            print(f"{name:<10} {masker:<14} SHAP {shap_s:.2f} s + LIME {lime_s:.2f} s = "
                  f"{shap_s + lime_s:.2f} s", flush=True)


if __name__ == "__main__":
    main()
