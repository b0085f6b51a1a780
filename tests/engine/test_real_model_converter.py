"""The real-model tier's network: EfficientNet-Lite0 rebuilt from its PyTorch weights.

Known answers from the published network (scikit-image's photos squashed to 224×224, RGB
scaled to [-1, 1]): if the conversion were off anywhere (a transposed kernel, padding on
the wrong side, a missing ReLU6) these probabilities would not come out.
"""

import numpy as np
import pytest
import real_model

from engine.images import fit_to_model


@pytest.fixture(scope="module")
def keras_softmax(efficientnet_lite0):
    import keras

    return keras.saving.load_model(efficientnet_lite0("softmax"), compile=False, safe_mode=True)


def _probabilities(model, name):
    pixels = fit_to_model(real_model.sample_image(name), (224, 224)).astype(np.float32)
    return model.predict(pixels[None] / 127.5 - 1.0, verbose=0)[0]


def test_the_weights_are_read_without_torch():
    import sys

    state = real_model.read_state_dict(real_model.weights_file())
    assert "torch" not in sys.modules
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280)
    # Every block of the table has its depthwise convolution; there are no more.
    blocks = {k.split(".")[1] for k in state if k.startswith("_blocks.")}
    assert len(blocks) == sum(b[0] for b in real_model.BLOCKS) == 16


def test_chelsea_is_an_egyptian_cat(keras_softmax):
    p = _probabilities(keras_softmax, "chelsea")
    top = np.argsort(p)[::-1][:3]
    assert list(top) == [real_model.EGYPTIAN_CAT, real_model.TIGER_CAT, real_model.TABBY]
    np.testing.assert_allclose(p[top], [0.794, 0.088, 0.070], atol=0.0006)


def test_coffee_is_an_espresso(keras_softmax):
    p = _probabilities(keras_softmax, "coffee")
    assert int(np.argmax(p)) == real_model.ESPRESSO
    assert p[real_model.ESPRESSO] == pytest.approx(0.902, abs=0.0006)


def test_the_file_loads_in_safe_mode_from_standard_layers(efficientnet_lite0):
    import json
    import zipfile

    with zipfile.ZipFile(efficientnet_lite0("nested-classifier")) as archive:
        config = archive.read("config.json").decode()
    assert "Lambda" not in config
    # Keras' own classes only: nothing that needs custom objects or trust to load.
    modules = set(_modules(json.loads(config)))
    assert modules and all(m == "keras" or m.startswith("keras.") for m in modules), modules
    import keras

    model = keras.saving.load_model(efficientnet_lite0("nested-classifier"), compile=False,
                                    safe_mode=True)
    assert model.output_shape == (None, 1000)


def _modules(node):
    if isinstance(node, dict):
        if "module" in node and "class_name" in node:
            yield node["module"]
        for value in node.values():
            yield from _modules(value)
    elif isinstance(node, list):
        for value in node:
            yield from _modules(value)
