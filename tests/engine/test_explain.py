"""SHAP and LIME put their positive mass where the known-answer model looks, and honour
the progress and cancel contract."""

import numpy as np
import pytest
from known_models import positive_share_in_region, region_mask
from model_doubles import CancelDuringBatch

from engine import explain
from engine.errors import Cancelled, ModelError
from engine.explain.lime_image import LimeParams
from engine.explain.shap_partition import ShapParams
from engine.jobs import CancelToken


def _density_ratio(attribution):
    """Mean positive attribution per pixel inside the region over the mean outside."""
    positive = np.clip(attribution, 0, None)
    mask = region_mask()
    return positive[mask].mean() / max(positive[~mask].mean(), 1e-12)


@pytest.mark.parametrize("masker", ["inpaint_telea", "inpaint_ns", "blur(8,8)"])
def test_shap_points_at_the_decisive_region(region_classifier, region_image, masker):
    result = explain.run("shap", region_image, region_classifier, [0, 1],
                         ShapParams(masker=masker, max_evals=300, batch_size=50))
    assert result.maps.shape == (2, 64, 64) and result.maps.dtype == np.float32
    assert positive_share_in_region(result.maps[0]) > 0.5
    assert _density_ratio(result.maps[0]) > 5
    # The other class is the mirror image: the region pushes away from "dark region".
    assert result.maps[1][region_mask()].mean() < 0
    # Shapley efficiency: attributions sum to f(image) - f(everything masked).
    full = region_classifier.predict(region_image)[0, 0]
    assert result.maps[0].sum() == pytest.approx(full - result.extras["base_values"][0], abs=1e-3)


@pytest.mark.parametrize("segmentation", ["quickshift", "slic", "felzenszwalb"])
def test_lime_points_at_the_decisive_region(region_classifier, region_image, segmentation):
    result = explain.run("lime", region_image, region_classifier, [0],
                         LimeParams(num_samples=300, segmentation=segmentation, seed=1))
    assert result.maps.shape == (1, 64, 64)
    assert positive_share_in_region(result.maps[0]) > 0.5
    segments = result.extras["segments"]
    weights = result.extras["segment_weights"][0]
    assert segments.shape == (64, 64) and weights.shape == (segments.max() + 1,)
    np.testing.assert_allclose(result.maps[0], weights[segments])
    # The segment with the largest weight lies mostly inside the region.
    best = np.argmax(weights)
    assert region_mask()[segments == best].mean() > 0.5


def test_same_seed_gives_same_maps(region_classifier, region_image):
    params = LimeParams(num_samples=120, seed=7)
    first = explain.run("lime", region_image, region_classifier, [0], params)
    second = explain.run("lime", region_image, region_classifier, [0], params)
    np.testing.assert_array_equal(first.maps, second.maps)
    other = explain.run("lime", region_image, region_classifier, [0], LimeParams(num_samples=120, seed=8))
    assert not np.array_equal(first.maps, other.maps)
    shap_params = ShapParams(max_evals=100)
    np.testing.assert_array_equal(explain.run("shap", region_image, region_classifier, [0], shap_params).maps,
                                  explain.run("shap", region_image, region_classifier, [0], shap_params).maps)


@pytest.mark.parametrize("method, params, batch", [
    ("shap", ShapParams(max_evals=400, batch_size=20), 20),
    ("lime", LimeParams(num_samples=400, batch_size=20), 20),
])
def test_progress_is_monotonic_and_ends_at_total(region_classifier, region_image, method, params, batch):
    reports = []
    explain.run(method, region_image, region_classifier, [0], params,
                progress=lambda done, total, stage: reports.append((done, total, stage)))
    done = [d for d, _, _ in reports]
    assert done == sorted(done)
    assert reports[-1][0] == reports[-1][1] >= 390
    assert all(d <= t for d, t, _ in reports)
    assert {s for _, _, s in reports} == {method.upper()}


@pytest.mark.parametrize("method, params", [
    ("shap", ShapParams(max_evals=400, batch_size=20)),
    ("lime", LimeParams(num_samples=400, batch_size=20)),
])
def test_cancel_stops_within_one_batch(region_classifier, region_image, method, params):
    token = CancelToken()
    model = CancelDuringBatch(region_classifier, token, batch_number=3)
    with pytest.raises(Cancelled):
        explain.run(method, region_image, model, [0], params, cancel=token)
    calls = model.calls
    assert len(calls) == 3, "the model ran again after cancel"
    assert sum(calls) < 400


def test_model_failure_propagates_with_a_clear_message(region_image):
    class Broken:
        input_size, num_classes, class_names = (64, 64), 2, ["a", "b"]
        label, untrained = "broken", False

        def predict(self, images):
            raise ModelError("broken: the model failed to run: out of memory")

    with pytest.raises(ModelError, match="out of memory"):
        explain.run("lime", region_image, Broken(), [0], LimeParams(num_samples=20))


def test_bad_targets_and_images_are_rejected(region_classifier, region_image):
    with pytest.raises(ValueError, match="out of range"):
        explain.run("shap", region_image, region_classifier, [5])
    with pytest.raises(ValueError, match="model input"):
        explain.run("shap", np.zeros((32, 32, 3), np.uint8), region_classifier, [0])
    with pytest.raises(ValueError, match="unknown method"):
        explain.run("no-such-method", region_image, region_classifier, [0])
    with pytest.raises(ValueError, match="masker"):
        explain.run("shap", region_image, region_classifier, [0], ShapParams(masker="zeros"))


def test_untrained_resnet_wiring(untrained_resnet):
    """Shapes and metadata on the real network (untrained: wiring only, not the answer)."""
    from skimage import data

    from engine.images import fit_to_model

    image = fit_to_model(data.chelsea(), untrained_resnet.input_size)
    probabilities = untrained_resnet.predict(image)[0]
    assert probabilities.shape == (1000,) and probabilities.sum() == pytest.approx(1, abs=1e-3)
    targets = [p.index for p in untrained_resnet.top_k(probabilities, 2)]
    result = explain.run("lime", image, untrained_resnet, targets, LimeParams(num_samples=20, batch_size=10))
    assert result.maps.shape == (2, 224, 224)
    assert result.untrained and "untrained" in result.model
    assert result.classes == targets
    assert result.timings["model_evaluations"] == 20
    assert set(result.versions) >= {"python", "keras", "backend", "shap", "lime", "numpy"}
    shap_result = explain.run("shap", image, untrained_resnet, targets[:1], ShapParams(max_evals=30, batch_size=30))
    assert shap_result.maps.shape == (1, 224, 224)
