"""Gradient methods (Grad-CAM, Integrated Gradients) on known-answer models: they must put
their positive mass where the model looks, match hand-computed maps, and honour the
progress and cancel contract. ResNet-50 (untrained) checks the wiring only."""

import numpy as np
import pytest
from known_models import SIZE, positive_share_in_region, region_and_whole_layer, region_mask

from engine import explain
from engine.backend import cached_gradient, find_gradcam_layer, import_keras, make_gradient
from engine.errors import Cancelled
from engine.explain.gradcam import GradCamParams, resize_bilinear
from engine.explain.integrated_gradients import IntegratedGradientsParams, path_weights
from engine.jobs import CancelToken
from engine.models import Classifier

SHARPNESS = 12.0


def build_conv_region_model(sharpness: float = SHARPNESS):
    """A convolutional twin of ``known_models.build_region_model`` (same probabilities).

    A fixed gate passes the region (channels 0-2) beside the whole image (channels 3-5); a
    1×1 convolution "features" turns each half into brightness / 255, one channel each;
    global average pooling and a softmax Dense read only the region channel:
    logit0 - logit1 = sharpness * (mean region brightness / 255 - 0.5). The whole-image
    channel is bright on the distractor too, so Grad-CAM must weight channels by gradient
    to find the region.
    """
    keras = import_keras()
    RegionAndWhole = region_and_whole_layer(keras)
    inputs = keras.Input((SIZE, SIZE, 3))
    split = RegionAndWhole(name="split")(inputs)
    conv = keras.layers.Conv2D(2, 1, name="features")
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(conv(split))
    dense = keras.layers.Dense(2, activation="softmax", name="decision")
    model = keras.Model(inputs, dense(pooled), name="conv_region_model")
    kernel = np.zeros((1, 1, 6, 2), np.float32)
    kernel[0, 0, :3, 0] = kernel[0, 0, 3:, 1] = 1 / (3 * 255.0)
    conv.set_weights([kernel, np.zeros(2, np.float32)])
    scale = sharpness * SIZE * SIZE / region_mask().sum()  # undo the pooling's average
    dense.set_weights([np.array([[scale, 0], [0, 0]], np.float32),
                       np.array([0, sharpness * 0.5], np.float32)])
    return model


@pytest.fixture(scope="module")
def conv_classifier():
    return Classifier(build_conv_region_model(), "conv region", ["bright region", "dark region"], "none")


def _brightness(image):
    return image.astype(np.float64).mean(axis=-1) / 255.0


# ---------------------------------------------------------------------------------------------
# Backend gradients
# ---------------------------------------------------------------------------------------------


def test_gradients_are_logit_gradients_in_pixel_space(region_classifier, region_image):
    """Region model: logit0 = s * mean(region pixels) / 255, logit1 constant."""
    gradient = make_gradient(region_classifier.keras_model, "none")
    result = gradient(np.stack([region_image, region_image]), np.array([[0, 1], [1, 0]]))
    expected_logit0 = SHARPNESS * region_image[region_mask()].mean() / 255
    np.testing.assert_allclose(result.scores, [[expected_logit0, 6.0], [6.0, expected_logit0]], rtol=1e-5)
    per_pixel = SHARPNESS / (255 * region_mask().sum() * 3)
    expected = np.broadcast_to(np.where(region_mask()[..., None], per_pixel, 0.0), (SIZE, SIZE, 3))
    assert result.input_grads.shape == (2, 2, SIZE, SIZE, 3)
    np.testing.assert_allclose(result.input_grads[0, 0], expected, atol=1e-9)
    np.testing.assert_allclose(result.input_grads[0, 1], 0, atol=1e-9)
    np.testing.assert_allclose(result.input_grads[1, 1], expected, atol=1e-9)
    assert result.activations is None and result.activation_grads is None


def test_gradients_follow_preprocessing(region_image):
    """With "unit" preprocessing the model sees pixels / 255: the gradient in pixel space
    is the model-space gradient / 255 (a gradient taken after preprocessing would not be)."""
    from known_models import build_region_model

    model = build_region_model()
    kernel, bias = model.get_layer("decision").get_weights()
    model.get_layer("decision").set_weights([kernel * 255, bias])  # same logits on 0-1 input
    unit = make_gradient(model, "unit")(region_image[None], np.array([0]))
    raw = make_gradient(build_region_model(), "none")(region_image[None], np.array([0]))
    np.testing.assert_allclose(unit.scores, raw.scores, rtol=1e-5)
    np.testing.assert_allclose(unit.input_grads, raw.input_grads, rtol=1e-4, atol=1e-12)


def test_layer_gradients_on_the_conv_model(conv_classifier, region_image):
    model = conv_classifier.keras_model
    assert find_gradcam_layer(model) == "features"
    result = make_gradient(model, "none", "features", wrt_input=False)(region_image[None], np.array([[0, 1]]))
    assert result.input_grads is None
    assert result.activations.shape == (1, SIZE, SIZE, 2)
    np.testing.assert_allclose(result.activations[0, ..., 0], _brightness(region_image) * region_mask(), atol=1e-5)
    assert result.activation_grads.shape == (1, 2, SIZE, SIZE, 2)
    # d logit0 / d features[..., 0] = scale / (H * W) = s / region area, everywhere.
    np.testing.assert_allclose(result.activation_grads[0, 0, ..., 0], SHARPNESS / region_mask().sum(), rtol=1e-5)
    np.testing.assert_allclose(result.activation_grads[0, 0, ..., 1], 0, atol=1e-9)
    np.testing.assert_allclose(result.activation_grads[0, 1], 0, atol=1e-9)
    both = make_gradient(model, "none", "features")(region_image[None], np.array([0]))
    np.testing.assert_allclose(both.activation_grads, result.activation_grads[:, :1], rtol=1e-5)
    assert both.input_grads.shape == (1, 1, SIZE, SIZE, 3)


def test_layer_search_and_bad_layers(region_classifier, conv_classifier):
    with pytest.raises(ValueError, match="no convolutional layer"):
        find_gradcam_layer(region_classifier.keras_model)  # Flatten + Dense: nothing 4-D
    with pytest.raises(ValueError, match="no layer 'nope'"):
        make_gradient(conv_classifier.keras_model, "none", "nope")
    with pytest.raises(ValueError, match="4-D"):
        make_gradient(conv_classifier.keras_model, "none", "pool")


def test_nested_base_model_and_softmax_activation_layer():
    """A pretrained-style base called as one layer, and softmax as its own layer: Grad-CAM
    finds the base's last convolution, can also take the base's output by its name, and
    scores are the logits."""
    keras = import_keras()
    base_inputs = keras.Input((16, 16, 3))
    base = keras.Model(base_inputs, keras.layers.Conv2D(4, 3, name="inner")(base_inputs), name="base")
    inputs = keras.Input((16, 16, 3))
    hidden = keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling2D()(base(inputs)))
    model = keras.Model(inputs, keras.layers.Activation("softmax")(hidden))
    assert find_gradcam_layer(model) == "inner"
    pixels = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
    result = make_gradient(model, "unit", "base")(pixels, np.array([[0, 1, 2]] * 2))
    assert result.activations.shape == (2, 14, 14, 4) and result.activation_grads.shape == (2, 3, 14, 14, 4)
    logits = result.scores - result.scores.max(axis=1, keepdims=True)
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax, Classifier(model, "m", ["a", "b", "c"], "unit").predict(pixels), atol=1e-5)


def test_compiled_gradients_are_cached_per_classifier(conv_classifier):
    first = cached_gradient(conv_classifier, "features", wrt_input=False)
    assert cached_gradient(conv_classifier, "features", wrt_input=False) is first
    assert cached_gradient(conv_classifier, None) is not first


# ---------------------------------------------------------------------------------------------
# Grad-CAM
# ---------------------------------------------------------------------------------------------


def test_gradcam_points_at_the_decisive_region(conv_classifier, region_image):
    result = explain.run("gradcam", region_image, conv_classifier, [0, 1])
    assert result.method == "gradcam" and result.params == {"layer": "features"}
    assert result.maps.shape == (2, SIZE, SIZE) and result.maps.dtype == np.float32
    assert positive_share_in_region(result.maps[0]) > 0.5
    # Known answer: ReLU(alpha * A) with alpha = s / area on the region channel, 0 elsewhere.
    expected = SHARPNESS / region_mask().sum() * _brightness(region_image) * region_mask()
    np.testing.assert_allclose(result.maps[0], expected, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(result.maps[1], 0, atol=1e-7)  # logit1 is a constant
    assert result.extras["cam"].shape == (2, SIZE, SIZE)


def test_gradcam_layer_can_be_chosen(conv_classifier, region_image, region_classifier):
    result = explain.run("gradcam", region_image, conv_classifier, [0], GradCamParams(layer="split"))
    assert result.params["layer"] == "split"
    assert positive_share_in_region(result.maps[0]) > 0.99
    with pytest.raises(ValueError, match="no convolutional layer"):
        explain.run("gradcam", region_image, region_classifier, [0])
    with pytest.raises(ValueError, match="layer name"):
        explain.run("gradcam", region_image, conv_classifier, [0], GradCamParams(layer=" "))


def test_gradcam_progress_and_cancel(conv_classifier, region_image):
    reports = []
    explain.run("gradcam", region_image, conv_classifier, [0, 1],
                progress=lambda done, total, stage: reports.append((done, total, stage)))
    assert reports[0][0] == 0 and reports[-1][:2] == (1, 1) and reports[-1][2] == "Grad-CAM"
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        explain.run("gradcam", region_image, conv_classifier, [0], cancel=token)


def test_bilinear_resize_matches_keras():
    keras = import_keras()
    values = np.random.default_rng(0).random((7, 5)).astype(np.float32)
    ours = resize_bilinear(values, (224, 160))
    theirs = keras.ops.convert_to_numpy(keras.ops.image.resize(
        values[None, ..., None], (224, 160), interpolation="bilinear", antialias=False))[0, ..., 0]
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_allclose(resize_bilinear(values, (7, 5)), values, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Integrated Gradients
# ---------------------------------------------------------------------------------------------


def test_ig_is_exact_on_the_linear_model(region_classifier, region_image):
    """A linear logit: IG = (x - baseline) * gradient, exactly, and completeness holds."""
    result = explain.run("ig", region_image, region_classifier, [0, 1],
                         IntegratedGradientsParams(steps=4, batch_size=3))
    per_pixel = SHARPNESS / (255 * region_mask().sum() * 3)
    expected = region_image.astype(np.float64).sum(axis=-1) * per_pixel * region_mask()
    np.testing.assert_allclose(result.maps[0], expected, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(result.maps[1], 0, atol=1e-9)
    assert positive_share_in_region(result.maps[0]) > 0.5
    np.testing.assert_allclose(result.extras["completeness_gap"], 0, atol=1e-4)
    np.testing.assert_allclose(result.extras["score_difference"][0], expected.sum(), rtol=1e-4)
    assert result.params["score"] == "logit" and result.params["steps"] == 4
    assert result.timings["model_evaluations"] == 8


@pytest.mark.parametrize("baseline", ["black", "blur", "noise"])
def test_ig_points_at_the_decisive_region(conv_classifier, region_image, baseline):
    result = explain.run("ig", region_image, conv_classifier, [0],
                         IntegratedGradientsParams(steps=8, baseline=baseline, blur_sigma=6.0))
    assert result.maps.shape == (1, SIZE, SIZE)
    assert positive_share_in_region(result.maps[0]) > 0.5
    assert result.maps[0][region_mask()].sum() > 0
    assert abs(result.extras["completeness_gap"][0]) < 1e-3 * abs(result.extras["score_difference"][0])


def test_ig_white_baseline_shows_the_region_as_darker_than_white(region_classifier, region_image):
    result = explain.run("ig", region_image, region_classifier, [0],
                         IntegratedGradientsParams(steps=4, baseline="white"))
    assert result.maps[0][region_mask()].sum() < 0
    np.testing.assert_array_equal(result.extras["baseline"], 255)


def test_ig_path_weights_are_the_trapezoid_rule():
    alphas, weights = path_weights(5)
    np.testing.assert_allclose(alphas, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(weights, [0.125, 0.25, 0.25, 0.25, 0.125])
    # integral of 3a^2 over [0, 1] is 1; the trapezoid rule with many points gets close
    alphas, weights = path_weights(101)
    assert weights @ (3 * alphas**2) == pytest.approx(1, abs=1e-3)


def test_ig_completeness_on_a_curved_model(region_image):
    """The conv model's logit is linear too, so check on a non-linear score: the
    probability-output twin (no softmax cut) with a steep sigmoid-like curve."""
    keras = import_keras()
    base = build_conv_region_model()
    logits = keras.layers.Dense(2, name="logits")
    outputs = keras.layers.Activation("tanh")(logits(base.get_layer("pool").output))
    model = keras.Model(base.inputs, outputs)
    weights = base.get_layer("decision").get_weights()
    logits.set_weights([weights[0] / 4, weights[1] / 4 - 1.5])
    classifier = Classifier(model, "curved", ["a", "b"], "none", outputs_probabilities=False)
    coarse = explain.run("ig", region_image, classifier, [0], IntegratedGradientsParams(steps=3))
    fine = explain.run("ig", region_image, classifier, [0], IntegratedGradientsParams(steps=64))
    assert fine.params["score"] == "output"
    assert abs(fine.extras["completeness_gap"][0]) < 0.01 * abs(fine.extras["score_difference"][0])
    assert abs(coarse.extras["completeness_gap"][0]) > abs(fine.extras["completeness_gap"][0])


def test_ig_progress_is_monotonic_and_ends_at_total(region_classifier, region_image):
    reports = []
    explain.run("ig", region_image, region_classifier, [0, 1],
                IntegratedGradientsParams(steps=10, batch_size=3),
                progress=lambda done, total, stage: reports.append((done, total, stage)))
    done = [d for d, _, _ in reports]
    assert done == sorted(done) and all(d <= t for d, t, _ in reports)
    assert reports[-1][:2] == (20, 20)
    assert {s for _, _, s in reports} == {"Integrated Gradients"}


def test_ig_cancel_stops_within_one_batch(region_classifier, region_image, monkeypatch):
    token = CancelToken()
    rows = []
    real = cached_gradient(region_classifier, None)

    def counting(pixels, targets):
        rows.append(len(pixels))
        if len(rows) == 2:
            token.cancel()  # the user presses Cancel while the second batch runs
        return real(pixels, targets)

    monkeypatch.setattr("engine.backend.cached_gradient", lambda *a, **k: counting)
    with pytest.raises(Cancelled):
        explain.run("ig", region_image, region_classifier, [0],
                    IntegratedGradientsParams(steps=40, batch_size=4), cancel=token)
    assert rows == [4, 4], "gradients ran again after cancel"


def test_ig_rejects_bad_params(region_classifier, region_image):
    for bad in (IntegratedGradientsParams(steps=1), IntegratedGradientsParams(baseline="grey"),
                IntegratedGradientsParams(batch_size=0)):
        with pytest.raises(ValueError):
            explain.run("ig", region_image, region_classifier, [0], bad)


# ---------------------------------------------------------------------------------------------
# Real network: wiring only
# ---------------------------------------------------------------------------------------------


def test_untrained_resnet_gradient_wiring(untrained_resnet):
    image = (np.random.default_rng(0).random((224, 224, 3)) * 255).astype(np.uint8)
    targets = [3, 7]
    cam = explain.run("gradcam", image, untrained_resnet, targets)
    assert cam.maps.shape == (2, 224, 224) and cam.maps.dtype == np.float32
    assert cam.params["layer"] == "conv5_block3_out"
    assert cam.extras["cam"].shape == (2, 7, 7)
    assert np.all(cam.maps >= 0) and np.all(np.isfinite(cam.maps))
    assert cam.untrained and cam.classes == targets
    ig = explain.run("ig", image, untrained_resnet, targets, IntegratedGradientsParams(steps=2, batch_size=4))
    assert ig.maps.shape == (2, 224, 224) and np.all(np.isfinite(ig.maps))
    assert ig.params["score"] == "logit" and ig.timings["model_evaluations"] == 4
    assert ig.extras["completeness_gap"].shape == (2,)


AGREEMENT_SCRIPT = """
import sys, numpy as np
sys.path[:0] = ["tests", "tests/engine", "."]
from known_models import region_image
from test_gradients import build_conv_region_model
from engine import explain
from engine.explain.integrated_gradients import IntegratedGradientsParams
from engine.models import Classifier
c = Classifier(build_conv_region_model(), "conv", ["a", "b"], "none")
cam = explain.run("gradcam", region_image(), c, [0, 1]).maps
ig = explain.run("ig", region_image(), c, [0], IntegratedGradientsParams(steps=5, baseline="noise")).maps
np.save(sys.argv[1], np.concatenate([cam, ig]))
"""


def test_jax_gradients_agree_with_tensorflow(tmp_path):
    """Same model, two backends, same Grad-CAM and IG maps (runs where JAX is installed)."""
    pytest.importorskip("jax")
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for backend in ("tensorflow", "jax"):
        subprocess.run([sys.executable, "-c", AGREEMENT_SCRIPT, str(tmp_path / f"{backend}.npy")],
                       check=True, cwd=root, env={**os.environ, "KERAS_BACKEND": backend})
    np.testing.assert_allclose(np.load(tmp_path / "jax.npy"), np.load(tmp_path / "tensorflow.npy"),
                               rtol=1e-4, atol=1e-7)
