"""The engine's fast SHAP and LIME compute the same numbers as the libraries used plainly,
the way the seed notebooks use them."""

import numpy as np
import pytest

from engine import explain
from engine.explain.lime_image import LimeParams, segment
from engine.explain.shap_partition import ShapParams
from engine.images import fit_to_model


@pytest.fixture(scope="module")
def photo():
    from skimage import data

    return fit_to_model(data.chelsea(), (64, 64))


@pytest.mark.parametrize("masker", ["inpaint_telea", "blur(6,6)"])
def test_shap_matches_plain_partition_explainer(region_classifier, photo, masker):
    import shap

    plain = shap.Explainer(region_classifier.predict, shap.maskers.Image(masker, photo.shape))
    expected = plain(photo[None], max_evals=200, batch_size=50, outputs=np.array([0, 1]), silent=True)
    ours = explain.run("shap", photo, region_classifier, [0, 1], ShapParams(masker=masker, max_evals=200))
    expected_maps = np.moveaxis(expected.values[0], -1, 0).sum(axis=-1)
    np.testing.assert_allclose(ours.maps, expected_maps, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("hide_color", [0.0, None])
def test_lime_matches_plain_lime_with_the_same_seed(region_classifier, photo, hide_color):
    from lime import lime_image

    params = LimeParams(num_samples=150, hide_color=hide_color, seed=5, batch_size=10,
                        segmentation="slic", segmentation_params={"n_segments": 40})
    segments = segment(photo, params)
    plain = lime_image.LimeImageExplainer(kernel_width=params.kernel_width, random_state=params.seed)
    expected = plain.explain_instance(photo, region_classifier.predict, labels=[0, 1], top_labels=None,
                                      hide_color=hide_color, num_features=params.num_features,
                                      num_samples=params.num_samples, batch_size=10,
                                      segmentation_fn=lambda _: segments, random_seed=params.seed)
    ours = explain.run("lime", photo, region_classifier, [0, 1], params)
    assert segments.max() > 3, "the photo should give several segments"
    np.testing.assert_array_equal(ours.extras["segments"], segments)
    for k, label in enumerate([0, 1]):
        expected_weights = np.zeros(segments.max() + 1)
        for seg_id, weight in expected.local_exp[label]:
            expected_weights[seg_id] = weight
        np.testing.assert_allclose(ours.extras["segment_weights"][k], expected_weights, rtol=1e-4, atol=1e-7)
