"""The seed notebooks' recipes, written the way a notebook user writes them.

These are the yardsticks: plain ``model.predict`` per batch, shap's own masker loop, lime's
own perturbation loop. Only ``verbose=0`` is added (Keras' per-call progress bars would
otherwise flood the terminal and slow the seed down unfairly).
"""

from __future__ import annotations

import numpy as np


def predict_fn(model, preprocess: str = "caffe"):
    """``caffe``: ResNet-50's ``preprocess_input``; ``tf``: pixels scaled to [-1, 1], as the
    notebooks write it for EfficientNet-Lite models."""
    from keras.applications.resnet50 import preprocess_input

    def f(x):
        if preprocess == "tf":
            return model.predict(x.astype("float32") / 127.5 - 1.0, verbose=0)
        return model.predict(preprocess_input(x.copy()), verbose=0)

    return f


def seed_shap(model, image: np.ndarray, classes: int, max_evals: int = 500, batch_size: int = 50,
              preprocess: str = "caffe"):
    """``shap.Explainer(f, Image("inpaint_telea")) (X, max_evals=500, batch_size=50, outputs=top-K)``."""
    import shap

    X = image[None]
    masker = shap.maskers.Image("inpaint_telea", X[0].shape)
    explainer = shap.Explainer(predict_fn(model, preprocess), masker)
    values = explainer(X, max_evals=max_evals, batch_size=batch_size,
                       outputs=shap.Explanation.argsort.flip[:classes], silent=True)
    maps = np.moveaxis(values.values[0], -1, 0).sum(axis=-1)
    return maps, list(np.asarray(values.output_indexes[0]).ravel()) if values.output_indexes is not None else None


def seed_lime(model, image: np.ndarray, top_labels: int = 4, num_samples: int = 1000,
              batch_size: int = 10, seed: int = 0, preprocess: str = "caffe"):
    """``LimeImageExplainer().explain_instance(img, f, top_labels=4, hide_color=0, num_samples=1000, batch_size=10)``.

    ``random_state``/``random_seed`` are fixed so the engine can be checked against it.
    """
    from lime import lime_image

    explainer = lime_image.LimeImageExplainer(random_state=seed)
    explanation = explainer.explain_instance(image, predict_fn(model, preprocess), top_labels=top_labels, hide_color=0,
                                             num_samples=num_samples, batch_size=batch_size,
                                             random_seed=seed)
    return explanation
