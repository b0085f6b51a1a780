"""Check that another Keras backend computes what TensorFlow computes, through the engine.

    python -m bench.backend_agreement --save DIR     (TensorFlow) model + inputs + outputs
    KERAS_BACKEND=jax python -m bench.backend_agreement --check DIR

The model is a small residual CNN (convolutions, batch norm, pooling, softmax) with fixed
random weights, small enough to carry between machines.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def build_model():
    from engine.backend import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    layers = keras.layers
    inputs = keras.Input((96, 96, 3))
    x = layers.Conv2D(16, 3, strides=2, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    y = layers.Conv2D(16, 3, padding="same")(x)
    y = layers.BatchNormalization()(y)
    x = layers.Activation("relu")(layers.Add()([x, y]))
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    # Non-trivial batch-norm statistics, so inference mode is really exercised.
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            rng = np.random.default_rng(1)
            layer.set_weights([gamma * 1.5, beta + 0.1, mean + rng.normal(0, 0.2, mean.shape),
                               var + rng.uniform(0.5, 1.5, var.shape)])
    return model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path)
    group.add_argument("--check", type=Path)
    args = parser.parse_args(argv)

    from engine.backend import backend_name
    from engine.models import ModelSpec, load_classifier

    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        build_model().save(args.save / "agreement.keras")
        images = np.random.default_rng(2).integers(0, 256, (8, 96, 96, 3), dtype=np.uint8)
        classifier = load_classifier(ModelSpec(model=str(args.save / "agreement.keras"), preprocess="unit"))
        np.savez(args.save / "reference.npz", images=images, probabilities=classifier.predict(images),
                 backend=backend_name())
        print(f"saved reference from {backend_name()}")
        return 0
    reference = np.load(args.check / "reference.npz")
    classifier = load_classifier(ModelSpec(model=str(args.check / "agreement.keras"), preprocess="unit"))
    ours = classifier.predict(reference["images"])
    diff = float(np.abs(ours - reference["probabilities"]).max())
    same_top = bool((ours.argmax(1) == reference["probabilities"].argmax(1)).all())
    ok = diff < 1e-4 and same_top
    print(f"{backend_name()} vs {reference['backend']}: max |diff| {diff:.2e}, same top class {same_top}: "
          f"{'AGREE' if ok else 'DIFFER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
