"""On the real, trained EfficientNet-Lite0: SHAP, LIME and Grad-CAM maps of the top class
beat the band of random cell orders on scikit-image's chelsea and coffee, and a map turned
upside down (its cells in reverse relevance) falls below it."""

import dataclasses

import numpy as np
import pytest
import real_model

from engine import explain, metrics
from engine.explain.lime_image import LimeParams
from engine.explain.shap_partition import ShapParams
from engine.images import fit_to_model

# Fewer evaluations than the defaults (500 / 1000) keep the tier quick; the maps are still
# the methods' own, and the scores are measured in full (20 steps, 10 random orders).
METHODS = {"shap": ShapParams(max_evals=300), "lime": LimeParams(num_samples=300), "gradcam": None}

pytestmark = pytest.mark.slow  # about a minute on two idle cores: two photos, three methods, two bands


@pytest.fixture(scope="module")
def lite0(efficientnet_lite0):
    from engine.models import ModelSpec, load_classifier

    return load_classifier(ModelSpec(model=str(efficientnet_lite0("softmax")), preprocess="tf"))


@pytest.fixture(scope="module", params=["chelsea", "coffee"])
def scored(request, lite0):
    image = fit_to_model(real_model.sample_image(request.param), lite0.input_size)
    top = int(np.argmax(lite0.predict(image)[0]))
    results = {}
    for method, params in METHODS.items():
        explanation = explain.run(method, image, lite0, [top], params)
        results[method] = (explanation, metrics.faithfulness(image, lite0, explanation, pixel_steps=0))
    return request.param, image, results


@pytest.mark.parametrize("method", list(METHODS))
def test_trained_model_maps_beat_the_random_band(scored, method):
    name, _, results = scored
    result = results[method][1]
    band = result["random_srg_mean"][0] + 2 * result["random_srg_sd"][0]
    assert result["better_than_random"] == [True], f"{name} {method}: SRG {result['srg'][0]:.3f} vs band {band:.3f}"
    assert result["srg"][0] > band and result["morf_auc"][0] < result["lerf_auc"][0]


def test_a_reversed_map_falls_below_the_band(scored, lite0):
    name, image, results = scored
    explanation, result = results["gradcam"]
    reversed_map = dataclasses.replace(explanation, maps=-explanation.maps)
    reverse = metrics.faithfulness(image, lite0, reversed_map, pixel_steps=0)
    assert reverse["random_srg_mean"] == result["random_srg_mean"]  # the cached band, shared
    assert reverse["srg"][0] < reverse["random_srg_mean"][0] - 2 * reverse["random_srg_sd"][0]
    assert reverse["better_than_random"] == [False]
