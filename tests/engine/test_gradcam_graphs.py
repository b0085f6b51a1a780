"""Grad-CAM on graphs that are not a straight line: a convolution whose output feeds two
branches, and the whole network nested twice (a classifier wrapped as one layer, its
convolutional trunk a model of its own). Known answer: the map of the straight model,
pointing at the decisive region."""

import numpy as np
import pytest
from known_models import SIZE, positive_share_in_region, region_and_whole_layer, region_image, region_mask

from engine import explain
from engine.backend import find_gradcam_layer, import_keras, make_gradient
from engine.explain.gradcam import GradCamParams
from engine.models import Classifier

SHARPNESS = 12.0


def _layers():
    keras = import_keras()
    return keras, region_and_whole_layer(keras)


def _features(keras, RegionAndWhole, inputs):
    """channel 0: region brightness / 255; channel 1: whole-image brightness / 255."""
    conv = keras.layers.Conv2D(2, 1, name="features")
    features = conv(RegionAndWhole(name="split")(inputs))
    kernel = np.zeros((1, 1, 6, 2), np.float32)
    kernel[0, 0, :3, 0] = kernel[0, 0, 3:, 1] = 1 / (3 * 255.0)
    conv.set_weights([kernel, np.zeros(2, np.float32)])
    return features


def _identity_branch(keras, features, name):
    conv = keras.layers.Conv2D(2, 1, name=name)
    out = conv(features)
    conv.set_weights([np.eye(2, dtype=np.float32)[None, None], np.zeros(2, np.float32)])
    return keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(out)


def _decision(keras, pooled, halve: bool):
    """logit0 − logit1 = s · (mean region brightness / 255 − 0.5), as known_models' model."""
    dense = keras.layers.Dense(2, activation="softmax", name="decision")
    out = dense(pooled)
    scale = SHARPNESS * SIZE * SIZE / region_mask().sum() / (2 if halve else 1)
    dense.set_weights([np.array([[scale, 0], [0, 0]], np.float32),
                       np.array([0, SHARPNESS * 0.5], np.float32)])
    return out


def build_branching_model():
    """"features" feeds two branches (identity 1×1 convolutions), added after pooling: the
    last convolution in layer order ("branch_b") carries only half of the score."""
    keras, RegionAndWhole = _layers()
    inputs = keras.Input((SIZE, SIZE, 3))
    features = _features(keras, RegionAndWhole, inputs)
    pooled = keras.layers.Add(name="join")([_identity_branch(keras, features, "branch_a"),
                                            _identity_branch(keras, features, "branch_b")])
    return keras.Model(inputs, _decision(keras, pooled, halve=True), name="branching")


def build_twice_nested_model():
    """outer( classifier( trunk(image) ) ): the trunk holds "features"."""
    keras, RegionAndWhole = _layers()
    trunk_in = keras.Input((SIZE, SIZE, 3))
    trunk = keras.Model(trunk_in, _features(keras, RegionAndWhole, trunk_in), name="trunk")
    inner_in = keras.Input((SIZE, SIZE, 3))
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(trunk(inner_in))
    classifier = keras.Model(inner_in, _decision(keras, pooled, halve=False), name="classifier")
    outer_in = keras.Input((SIZE, SIZE, 3))
    return keras.Model(outer_in, classifier(outer_in), name="wrapped")


def build_side_by_side_model():
    """Two convolutions straight from the input, joined only after pooling: no single
    feature map carries the score."""
    keras = import_keras()
    inputs = keras.Input((SIZE, SIZE, 3))
    a = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3, name="tower_a")(inputs))
    b = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3, name="tower_b")(inputs))
    joined = keras.layers.Concatenate()([a, b])
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(joined), name="towers")


def _expected_cam(image):
    """ReLU(alpha · A) with alpha = s / region area on the region channel (the straight
    model's known answer, tests/engine/test_gradients.py)."""
    brightness = image.astype(np.float64).mean(axis=-1) / 255.0
    return SHARPNESS / region_mask().sum() * brightness * region_mask()


@pytest.mark.parametrize("build", [build_branching_model, build_twice_nested_model])
def test_gradcam_finds_the_shared_convolution(build):
    image = region_image()
    classifier = Classifier(build(), "graph", ["bright region", "dark region"], "none")
    assert classifier.head_kind.value == "probabilities"
    assert find_gradcam_layer(classifier.keras_model) == "features"
    result = explain.run("gradcam", image, classifier, [0, 1])
    assert result.params["layer"] == "features"
    np.testing.assert_allclose(result.maps[0], _expected_cam(image), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(result.maps[1], 0, atol=1e-7)
    assert positive_share_in_region(result.maps[0]) > 0.99


def test_a_branch_that_carries_part_of_the_score_is_refused_in_one_line():
    classifier = Classifier(build_branching_model(), "graph", ["a", "b"], "none")
    with pytest.raises(ValueError) as error:
        explain.run("gradcam", region_image(), classifier, [0], GradCamParams(layer="branch_b"))
    message = str(error.value)
    assert "\n" not in message and "--layer" in message and "features" in message
    assert "branch_b" in message and "branch_a" not in message.split("candidates")[1]


def test_no_single_feature_map_is_said_in_one_line_with_the_branches():
    model = build_side_by_side_model()
    with pytest.raises(ValueError) as error:
        find_gradcam_layer(model)
    message = str(error.value)
    assert "\n" not in message and "tower_a" in message and "tower_b" in message


def test_gradients_reach_the_logits_through_both_nestings():
    """The score is the pre-softmax logit of the innermost Dense layer, not the probability."""
    image = region_image()
    model = build_twice_nested_model()
    result = make_gradient(model, "none")(image[None], np.array([[0, 1]]))
    region_brightness = image[region_mask()].astype(np.float64).mean() / 255.0
    np.testing.assert_allclose(result.scores[0], [SHARPNESS * region_brightness, SHARPNESS * 0.5],
                               rtol=1e-5)


def test_a_sequential_model_inside_a_sequential_model():
    """Sequential models have a graph too: the inner one's convolution is found, and the
    score is the logit before the last Dense layer's softmax."""
    keras = import_keras()
    keras.utils.set_random_seed(0)
    trunk = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, name="conv"),
                              keras.layers.ReLU(name="relu")], name="trunk")
    model = keras.Sequential([keras.Input((16, 16, 3)), trunk,
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, activation="softmax", name="head")])
    assert find_gradcam_layer(model) == "relu"
    pixels = np.random.default_rng(1).integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
    scores = make_gradient(model, "unit")(pixels, np.array([[0, 1, 2]] * 2)).scores
    features = keras.Model(model.inputs, model.layers[-1].input)(pixels / 255.0)
    kernel, bias = model.get_layer("head").get_weights()
    np.testing.assert_allclose(scores, np.asarray(features) @ kernel + bias, rtol=1e-4, atol=1e-5)
