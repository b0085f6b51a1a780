"""Cascading model-parameter randomisation: weights come back, model-agnostic methods really
call the random model (through OpenVINO's cache too), and a map that ignores the model is
flagged."""

import numpy as np
import pytest
from model_doubles import CancelDuringBatch

from engine import explain, sanity
from engine.errors import Cancelled
from engine.explain.lime_image import LimeParams
from engine.jobs import CancelToken
from engine.models import Classifier

LIME = LimeParams(num_samples=120, batch_size=40, segmentation="slic", segmentation_params={"n_segments": 40})


def _layered_model():
    """Conv → conv → pool → dense: four weighted layers to cascade through."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(x)
    x = keras.layers.BatchNormalization(name="norm")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="head")(x))


@pytest.fixture(scope="module")
def layered_classifier():
    return Classifier(_layered_model(), "layered", ["a", "b", "c"], "none", runtime="keras")


def test_cascade_goes_head_first_then_deeper(layered_classifier):
    groups = sanity.cascade_groups(layered_classifier.keras_model, 3)
    assert [[layer.name for layer in g] for g in groups] == [["head"], ["conv_b", "norm"], ["conv_a"]]
    assert len(sanity.cascade_groups(layered_classifier.keras_model, 9)) == 4  # one layer a step at most
    assert [[layer.name for layer in g] for g in sanity.cascade_groups(layered_classifier.keras_model, 1)] \
        == [["head", "conv_b", "norm", "conv_a"]]


def test_weights_are_restored_and_every_step_is_reported(layered_classifier):
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    before = [w.copy() for w in layered_classifier.keras_model.get_weights()]
    probabilities = layered_classifier.predict(image)
    original = explain.run("lime", image, layered_classifier, [0, 1], LIME)
    reports = []
    result = sanity.sanity_check(image, layered_classifier, original, LIME, sanity.SanityParams(groups=3),
                                 progress=lambda d, t, s: reports.append((d, t, s)))
    after = layered_classifier.keras_model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    np.testing.assert_array_equal(layered_classifier.predict(image), probabilities)
    assert result["layers"] == ["head", "norm", "conv_a"]
    assert np.array(result["spearman"]).shape == np.array(result["ssim"]).shape == (3, 2)
    assert result["maps"].shape == (3, 2, 32, 32)
    # The numbers against scipy's Spearman and SSIM on the same maps, |map| scaled to [0, 1].
    from scipy.stats import spearmanr
    from skimage.metrics import structural_similarity

    for step in range(3):
        for k in range(2):
            a, b = np.abs(original.maps[k]).ravel(), np.abs(result["maps"][step, k]).ravel()
            assert result["spearman"][step][k] == pytest.approx(spearmanr(a, b).statistic, abs=1e-6)
            assert result["ssim"][step][k] == pytest.approx(structural_similarity(
                (a / a.max()).reshape(32, 32), (b / b.max()).reshape(32, 32), data_range=1.0), abs=1e-6)
    done = [d for d, _, _ in reports]
    assert done == sorted(done) and reports[-1][0] == reports[-1][1] and "Sanity check 3/3" in reports[-2][2]


def test_weights_are_restored_when_cancelled(layered_classifier):
    image = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    before = [w.copy() for w in layered_classifier.keras_model.get_weights()]
    original = explain.run("lime", image, layered_classifier, [0], LIME)
    token = CancelToken()
    model = CancelDuringBatch(layered_classifier, token, batch_number=2)
    with pytest.raises(Cancelled):
        sanity.sanity_check(image, model, original, LIME, cancel=token)
    assert all(np.array_equal(a, b) for a, b in zip(before, layered_classifier.keras_model.get_weights()))


@pytest.mark.parametrize("runtime", ["keras", "openvino"])
def test_a_model_agnostic_method_sees_the_random_model(runtime, region_image):
    """LIME on the known-answer model puts its weight on the decisive region; with the
    decision layer random it cannot, and the correlation with the original map falls. Through
    OpenVINO too: its converted network must not keep answering with the trained weights."""
    from known_models import build_region_model, positive_share_in_region

    classifier = Classifier(build_region_model(), "region", ["bright region", "dark region"], "none",
                            runtime=runtime)
    assert classifier.runtime == runtime
    params = LimeParams(num_samples=300, batch_size=100, segmentation="slic", segmentation_params={"n_segments": 60})
    original = explain.run("lime", region_image, classifier, [0], params)
    assert positive_share_in_region(original.maps[0]) > 0.6
    result = sanity.sanity_check(region_image, classifier, original, params)
    assert result["layers"] == ["decision"]
    assert positive_share_in_region(result["maps"][0, 0]) < 0.4
    assert result["spearman"][0][0] < sanity.DOES_NOT_DEPEND and result["does_not_depend_on_model"] == [False]
    assert original.maps[0] == pytest.approx(explain.run("lime", region_image, classifier, [0], params).maps[0])


def test_a_map_that_ignores_the_model_is_flagged(region_image, monkeypatch):
    """An "explanation" that is the image's brightness whatever the model: the same after
    randomisation, so correlation 1 and the flag."""
    from engine.explain.common import make_explanation
    from known_models import build_region_model

    classifier = Classifier(build_region_model(), "region", ["bright region", "dark region"], "none",
                            runtime="keras")

    def edge_detector(image, classifier, targets, params, progress, cancel):
        brightness = image.astype(np.float32).mean(-1)
        maps = np.stack([brightness for _ in targets])
        return make_explanation("edges", image, classifier, targets, maps, {}, 0.0, 0)

    monkeypatch.setitem(explain.METHODS, "edges", (edge_detector, dict))
    original = explain.run("edges", region_image, classifier, [0, 1])
    result = sanity.sanity_check(region_image, classifier, original)
    assert result["spearman"] == [[1.0, 1.0]] and result["ssim"][0] == pytest.approx([1.0, 1.0])
    assert result["does_not_depend_on_model"] == [True, True]


def test_the_strip_shows_each_step_with_its_numbers(layered_classifier, tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from engine.render import draw_sanity, new_figure, save_sanity_png

    image = np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    original = explain.run("lime", image, layered_classifier, [1, 2], LIME)
    result = sanity.sanity_check(image, layered_classifier, original, LIME, sanity.SanityParams(groups=2))
    figure = new_figure(8, 3)
    FigureCanvasAgg(figure)
    draw_sanity(figure, [original], {"lime": result}, 2)
    figure.canvas.draw()
    steps = [ax.get_title() for ax in figure.axes if ax.title.get_gid() == "sanity-step"]
    k = original.index_of(2)
    assert steps == [f"random to {layer}\nρ {rho[k]:.2f} · SSIM {ssim[k]:.2f}"
                     for layer, rho, ssim in zip(result["layers"], result["spearman"], result["ssim"])]
    shown = [ax.images[0].get_array() for ax in figure.axes if ax.images]
    np.testing.assert_allclose(shown[0], np.abs(original.maps[k]))
    np.testing.assert_allclose(shown[-1], np.abs(result["maps"][-1, k]))
    save_sanity_png(tmp_path / "sanity.png", [original], {"lime": result}, 1)
    assert (tmp_path / "sanity.png").read_bytes().startswith(b"\x89PNG")
