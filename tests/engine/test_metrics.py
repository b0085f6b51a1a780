"""Faithfulness (deletion / insertion), agreement and stability metrics: hand-computed
curves on a model whose output is a known function of the pixels, the known-answer model's
true explanation beating random and inverted ones, and constructed maps for agreement."""

import dataclasses

import numpy as np
import pytest
from known_models import region_mask
from model_doubles import CancelDuringBatch

from engine import explain, metrics
from engine.backend import import_keras
from engine.errors import Cancelled
from engine.explain.integrated_gradients import IntegratedGradientsParams
from engine.jobs import CancelToken
from engine.models import Classifier

SIDE = 8  # 64 pixels; with 8 steps each step changes exactly 8 pixels


@pytest.fixture(scope="module")
def brightness_classifier():
    """"Probability" of class 0 = mean brightness / 255, class 1 = 1 - that: linear, so
    each curve is known exactly from which pixels are changed."""
    keras = import_keras()
    inputs = keras.Input((SIDE, SIDE, 3))
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    per_value = 1 / (255 * SIDE * SIDE * 3)
    kernel = np.tile(np.array([[per_value, -per_value]], np.float32), (SIDE * SIDE * 3, 1))
    dense.set_weights([kernel, np.array([0, 1], np.float32)])
    return Classifier(model, "brightness", ["bright", "dark"], "none", outputs_probabilities=True)


@pytest.fixture(scope="module")
def half_white():
    image = np.zeros((SIDE, SIDE, 3), np.uint8)
    image[:, : SIDE // 2] = 255  # left half white, right half black
    return image


def _white_first():
    attribution = np.zeros((SIDE, SIDE))
    attribution[:, : SIDE // 2] = 1
    return attribution


def test_curves_match_the_hand_computed_case(brightness_classifier, half_white):
    """White pixels first: deletion to black loses 8/64 of the brightness per step until the
    32 white pixels are gone (a triangle: AUC 0.5 * 0.5 * 0.5 = 0.125); insertion from
    black gains it back the same way, then stays at 0.5 (AUC 0.125 + 0.25 = 0.375)."""
    curves = metrics.deletion_insertion(half_white, brightness_classifier, 0, _white_first(), steps=8,
                                        substrate_deletion="black", substrate_insertion="black")
    np.testing.assert_allclose(curves.fractions, np.arange(9) / 8)
    np.testing.assert_allclose(curves.deletion, [0.5, 0.375, 0.25, 0.125, 0, 0, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(curves.insertion, [0, 0.125, 0.25, 0.375, 0.5, 0.5, 0.5, 0.5, 0.5], atol=1e-6)
    assert curves.deletion_auc == pytest.approx(0.125, abs=1e-6)
    assert curves.insertion_auc == pytest.approx(0.375, abs=1e-6)
    # Black pixels first: nothing changes until they are all gone, then the same slopes.
    inverted = metrics.deletion_insertion(half_white, brightness_classifier, 0, -_white_first(), steps=8,
                                          substrate_deletion="black", substrate_insertion="black")
    assert inverted.deletion_auc == pytest.approx(0.375, abs=1e-6)
    assert inverted.insertion_auc == pytest.approx(0.125, abs=1e-6)
    # Class 1 is 1 - class 0, curve for curve.
    other = metrics.deletion_insertion(half_white, brightness_classifier, 1, _white_first(), steps=8,
                                       substrate_deletion="black", substrate_insertion="black")
    np.testing.assert_allclose(other.deletion, 1 - curves.deletion, atol=1e-6)


def test_ties_break_in_row_major_order(brightness_classifier):
    """A constant map deletes pixels row by row; with only the first row white, the first
    step (8 pixels) removes all the brightness."""
    image = np.zeros((SIDE, SIDE, 3), np.uint8)
    image[0] = 255
    curves = metrics.deletion_insertion(image, brightness_classifier, 0, np.zeros((SIDE, SIDE)), steps=8,
                                        substrate_deletion="black", substrate_insertion="black")
    np.testing.assert_allclose(curves.deletion, [0.125] + [0] * 8, atol=1e-6)
    np.testing.assert_array_equal(metrics.pixel_order(np.zeros((2, 2))), [0, 1, 2, 3])
    np.testing.assert_array_equal(metrics.pixel_order(np.array([[1, 3], [3, 2]])), [1, 2, 3, 0])


def test_insertion_from_blur_follows_the_substrate(brightness_classifier, half_white):
    """From a blurred start, revealing pixel i adds (x_i - blur_i) / (255 * pixels * 3)."""
    sigma = 1.5
    start = metrics.substrate(half_white, "blur", sigma)
    curves = metrics.deletion_insertion(half_white, brightness_classifier, 0, _white_first(), steps=8,
                                        blur_sigma=sigma)
    gain = (half_white - start).sum(axis=-1).ravel()[metrics.pixel_order(_white_first())]
    counts = np.arange(9) * 8
    expected = [(start.sum() + gain[:n].sum()) / (255 * SIDE * SIDE * 3) for n in counts]
    np.testing.assert_allclose(curves.insertion, expected, atol=1e-5)
    assert curves.insertion[0] == pytest.approx(0.5, abs=0.02)  # blur keeps the mean, nearly


def test_blur_matches_scipy():
    from scipy.ndimage import gaussian_filter

    image = np.random.default_rng(0).integers(0, 256, (30, 41, 3)).astype(np.float32)
    for sigma in (0.8, 3.0):
        expected = gaussian_filter(image, (sigma, sigma, 0), mode="reflect", truncate=3.0)
        np.testing.assert_allclose(metrics.gaussian_blur(image, sigma), expected, atol=1e-3)
    with pytest.raises(ValueError, match="substrate"):
        metrics.substrate(image, "grey")


def test_random_baseline_is_seeded_and_in_between(brightness_classifier, half_white):
    kwargs = dict(steps=8, substrate_deletion="black", substrate_insertion="black")
    first = metrics.random_baseline(half_white, brightness_classifier, 0, seed=3, **kwargs)
    again = metrics.random_baseline(half_white, brightness_classifier, 0, seed=3, **kwargs)
    other = metrics.random_baseline(half_white, brightness_classifier, 0, seed=4, **kwargs)
    assert first.deletion_auc == again.deletion_auc and first.deletion_auc != other.deletion_auc
    assert 0.125 < first.deletion_auc < 0.375 and 0.125 < first.insertion_auc < 0.375


@pytest.fixture(scope="module")
def ig_explanation(region_classifier, region_image):
    return explain.run("ig", region_image, region_classifier, [0], IntegratedGradientsParams(steps=4))


def test_true_explanations_beat_random_and_inverted(region_classifier, region_image, ig_explanation):
    truth = dataclasses.replace(ig_explanation, maps=region_mask()[None].astype(np.float32))
    inverted = dataclasses.replace(ig_explanation, maps=-ig_explanation.maps)
    scores = {name: metrics.faithfulness(region_image, region_classifier, e, steps=16)
              for name, e in (("ig", ig_explanation), ("truth", truth), ("inverted", inverted))}
    for name in ("ig", "truth"):
        result = scores[name]
        assert result["deletion_auc"][0] < result["random_deletion_auc"][0]
        assert result["deletion_auc"][0] < scores["inverted"]["deletion_auc"][0]
        assert result["insertion_auc"][0] > result["random_insertion_auc"][0]
        assert result["insertion_auc"][0] > scores["inverted"]["insertion_auc"][0]
    # The region is 10% of the image: deleting it first drops the class at once.
    assert scores["truth"]["deletion_auc"][0] < 0.1 < scores["truth"]["random_deletion_auc"][0]


def test_faithfulness_result_shape_progress_and_json(region_classifier, region_image, ig_explanation):
    explanation = dataclasses.replace(ig_explanation, classes=[0, 1],
                                      maps=np.stack([ig_explanation.maps[0], -ig_explanation.maps[0]]))
    reports = []
    result = metrics.faithfulness(region_image, region_classifier, explanation, steps=10, batch_size=7,
                                  progress=lambda done, total, stage: reports.append((done, total, stage)))
    for key in ("deletion_auc", "insertion_auc", "random_deletion_auc", "random_insertion_auc"):
        assert len(result[key]) == 2 and all(isinstance(v, float) for v in result[key])
    assert result["deletion_curves"].shape == result["random_insertion_curves"].shape == (2, 11)
    assert result["fractions"][0] == 0 and result["fractions"][-1] == 1
    # The random order is shared by the classes: evaluated once, read for each.
    np.testing.assert_allclose(result["random_deletion_curves"].sum(axis=0), 1, atol=1e-5)
    done = [d for d, _, _ in reports]
    assert done == sorted(done) and reports[-1][:2] == ((2 * 2 + 2) * 11,) * 2
    assert result["model_evaluations"] == 66
    import json

    summary = metrics.json_summary(result)
    assert "deletion_curves" not in summary and json.loads(json.dumps(summary)) == summary
    # the same explanation through the single-class call gives the same numbers
    single = metrics.deletion_insertion(region_image, region_classifier, 0, explanation.maps[0], steps=10)
    assert single.deletion_auc == pytest.approx(result["deletion_auc"][0])
    assert single.insertion_auc == pytest.approx(result["insertion_auc"][0])


def test_faithfulness_cancel_stops_within_one_batch(region_classifier, region_image, ig_explanation):
    token = CancelToken()
    model = CancelDuringBatch(region_classifier, token, batch_number=2)
    with pytest.raises(Cancelled):
        metrics.faithfulness(region_image, model, ig_explanation, steps=30, batch_size=8, cancel=token)
    assert model.calls == [8, 8]


# ---------------------------------------------------------------------------------------------
# Agreement and stability
# ---------------------------------------------------------------------------------------------


def test_rank_correlation_on_constructed_maps():
    rng = np.random.default_rng(0)
    a = rng.random((20, 30))
    assert metrics.rank_correlation(a, a) == pytest.approx(1)
    assert metrics.rank_correlation(a, -a) == pytest.approx(-1)
    assert metrics.rank_correlation(a, np.exp(3 * a)) == pytest.approx(1)  # ranks, not values
    assert abs(metrics.rank_correlation(a, rng.random((20, 30)))) < 0.15
    # ties get average ranks, as scipy's Spearman does
    from scipy.stats import spearmanr

    tied_a, tied_b = rng.integers(0, 4, (10, 10)), rng.integers(0, 3, (10, 10))
    assert metrics.rank_correlation(tied_a, tied_b) == pytest.approx(
        spearmanr(tied_a.ravel(), tied_b.ravel()).statistic)
    assert metrics.rank_correlation(np.zeros((3, 3)), np.ones((3, 3))) == 1.0
    assert metrics.rank_correlation(np.zeros((3, 3)), a[:3, :3]) == 0.0
    with pytest.raises(ValueError, match="shape"):
        metrics.rank_correlation(a, a[:5])


def test_top_overlap_on_constructed_maps():
    a = np.zeros((10, 10))
    a[:1] = 1  # top 10% = first row
    b = np.zeros((10, 10))
    b[-1] = 1  # top 10% = last row
    assert metrics.top_overlap(a, a) == 1.0
    assert metrics.top_overlap(a, b) == 0.0
    c = np.zeros((10, 10))
    c[0, :5] = c[1, :5] = 1  # shares 5 of a's 10 top pixels: IoU 5 / 15
    assert metrics.top_overlap(a, c) == pytest.approx(1 / 3)
    assert metrics.top_overlap(a, b, fraction=1.0) == 1.0
    assert metrics.top_pixels(a, 0.1).sum() == 10
    with pytest.raises(ValueError):
        metrics.top_overlap(a, b, fraction=0)


def test_stability_of_repeated_maps():
    rng = np.random.default_rng(1)
    base = rng.random((16, 16))
    spread, score = metrics.stability(np.stack([base] * 4))
    assert spread.shape == (16, 16) and np.all(spread == 0) and score == pytest.approx(1)
    noisy = np.stack([base + rng.normal(0, 0.1, base.shape) for _ in range(4)])
    spread, noisy_score = metrics.stability(noisy)
    np.testing.assert_allclose(spread, noisy.std(axis=0), rtol=1e-5)
    unrelated = metrics.stability(rng.random((4, 16, 16)))[1]
    assert unrelated < noisy_score < 1 and 0 <= unrelated < 0.2
    with pytest.raises(ValueError):
        metrics.stability(base[None])
