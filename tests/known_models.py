"""Known-answer classifiers: tiny Keras models with fixed weights whose decision depends
only on the brightness of one known square region. Explanations must point there."""

from __future__ import annotations

import numpy as np

SIZE = 64
REGION = (slice(8, 28), slice(8, 28))  # rows, cols of the region that decides class 0
DISTRACTOR = (slice(40, 58), slice(38, 58))  # bright too, but the model ignores it


def region_mask() -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), bool)
    mask[REGION] = True
    return mask


def build_region_model(sharpness: float = 12.0):
    """Two classes: "bright region" (0) vs "dark region" (1).

    logit0 - logit1 = sharpness * (mean region brightness / 255 - 0.5), all from a single
    Dense layer on raw 0-255 pixels, so there is nothing else the model can look at.
    """
    import keras

    weights = np.zeros((SIZE, SIZE, 3, 2), np.float32)
    area = region_mask().sum() * 3
    weights[REGION[0], REGION[1], :, 0] = sharpness / (255.0 * area)
    inputs = keras.Input((SIZE, SIZE, 3))
    flat = keras.layers.Flatten()(inputs)
    dense = keras.layers.Dense(2, activation="softmax", name="decision")
    outputs = dense(flat)
    model = keras.Model(inputs, outputs, name="region_model")
    dense.set_weights([weights.reshape(-1, 2), np.array([0.0, sharpness * 0.5], np.float32)])
    return model


def region_and_whole_layer(keras):
    """A layer class passing the region (channels 0-2) beside the whole image (channels 3-5):
    the fixed gate of the convolutional known-answer models."""
    gate = region_mask().astype("float32")[None, :, :, None]

    class RegionAndWhole(keras.layers.Layer):
        def call(self, x):
            return keras.ops.concatenate([x * gate, x], axis=-1)

        def compute_output_shape(self, shape):
            return (*shape[:-1], 2 * shape[-1])

    return RegionAndWhole


def region_image() -> np.ndarray:
    """Dark background, bright decisive square, bright distractor square, mild texture."""
    rng = np.random.default_rng(0)
    image = np.full((SIZE, SIZE, 3), 40, np.float32) + rng.normal(0, 4, (SIZE, SIZE, 3))
    image[REGION] = (230, 200, 60)
    image[DISTRACTOR] = (60, 200, 230)
    return np.clip(image, 0, 255).astype(np.uint8)


def positive_share_in_region(attribution: np.ndarray) -> float:
    """Fraction of all positive attribution that falls inside the decisive region."""
    positive = np.clip(attribution, 0, None)
    total = positive.sum()
    return float(positive[region_mask()].sum() / total) if total > 0 else 0.0


def save_conv_model(folder, labels=("left", "right")):
    """A tiny convolutional classifier (Grad-CAM needs a convolutional layer), 32×32 input,
    seeded weights, saved as ``folder/conv.keras`` with ``labels.txt`` beside it."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    features = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="features")(
        keras.layers.Rescaling(1 / 255.0)(inputs))
    outputs = keras.layers.Dense(len(labels), activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(features))
    path = folder / "conv.keras"
    keras.Model(inputs, outputs).save(path)
    (folder / "labels.txt").write_text("\n".join(labels) + "\n")
    return path


CUSTOM_LAYER_SOURCE = '''
import keras


@keras.saving.register_keras_serializable(package="user")
class Scale(keras.layers.Layer):
    """Multiplies by a fixed factor: Keras cannot rebuild it without this file."""

    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
'''

_BUILD_CUSTOM = '''
import runpy, numpy as np, keras
Scale = runpy.run_path("layers.py")["Scale"]
inputs = keras.Input((8, 8, 3))
dense = keras.layers.Dense(2, activation="softmax")
model = keras.Model(inputs, dense(keras.layers.Flatten()(Scale(0.01)(inputs))))
dense.set_weights([np.linspace(-1, 1, 8 * 8 * 3 * 2, dtype="float32").reshape(-1, 2), np.zeros(2, "float32")])
model.save("custom.keras")
image = np.arange(8 * 8 * 3, dtype="float32").reshape(8, 8, 3)
np.save("expected.npy", model.predict(image[None], verbose=0)[0])
'''


def save_custom_layer_model(folder):
    """``folder/custom.keras`` with a registered custom layer defined in ``folder/layers.py``,
    and ``expected.npy``: Keras's own output for ``custom_layer_image()``. Saved in a child
    process, so the calling process has never registered the layer (as for a real user)."""
    import subprocess
    import sys

    (folder / "layers.py").write_text(CUSTOM_LAYER_SOURCE)
    subprocess.run([sys.executable, "-c", _BUILD_CUSTOM], cwd=folder, check=True, capture_output=True,
                   timeout=300)
    return folder / "custom.keras", folder / "layers.py"


def custom_layer_image() -> np.ndarray:
    return np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
def checkerboard(shape: tuple[int, int], square: int = 2) -> np.ndarray:
    """±1 checkerboard of ``square``-pixel squares."""
    rows, cols = np.indices(shape) // square
    return np.where((rows + cols) % 2 == 0, 1.0, -1.0)


TEXTURE_SHARPNESS = 12.0


def texture_weights() -> tuple[np.ndarray, np.ndarray]:
    """Dense kernel (SIZE*SIZE*3, 2) and bias of the texture model (see build_texture_model)."""
    weights = np.zeros((SIZE, SIZE, 3, 2), np.float32)
    pattern = checkerboard((REGION[0].stop - REGION[0].start, REGION[1].stop - REGION[1].start))
    area = pattern.size * 3
    # contrast = mean over the region of pattern * (x / 255 - 0.5) * 2, in [-1, 1]
    weights[REGION[0], REGION[1], :, 0] = (TEXTURE_SHARPNESS * 2 / (255.0 * area)) * pattern[..., None]
    offset = -TEXTURE_SHARPNESS * 2 * 0.5 * float(pattern.sum() * 3) / area  # the -0.5 inside
    bias = np.array([offset, TEXTURE_SHARPNESS * 0.5], np.float32)
    return weights.reshape(-1, 2), bias


def build_texture_model():
    """Two classes: "textured region" (0) vs "plain" (1), decided by a fine checkerboard in
    the known region only: logit0 - logit1 = sharpness * (contrast - 0.5).

    A blur wipes the checkerboard out, so the cell-level faithfulness test (cells replaced
    by a blurred copy) has a known answer: the region's cells matter, nothing else does.
    """
    import keras

    inputs = keras.Input((SIZE, SIZE, 3))
    dense = keras.layers.Dense(2, activation="softmax", name="decision")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)), name="texture_model")
    dense.set_weights(list(texture_weights()))
    return model


def texture_image() -> np.ndarray:
    """Mid-grey textured background, a black/white checkerboard in the decisive region and
    another (ignored) one in the distractor."""
    rng = np.random.default_rng(1)
    image = np.full((SIZE, SIZE, 3), 110, np.float32) + rng.normal(0, 6, (SIZE, SIZE, 3))
    for rows, cols in (REGION, DISTRACTOR):
        pattern = checkerboard((rows.stop - rows.start, cols.stop - cols.start))
        image[rows, cols] = np.where(pattern > 0, 240, 15)[..., None]
    return np.clip(image, 0, 255).astype(np.uint8)
