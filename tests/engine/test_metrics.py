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
def texture_classifier():
    from known_models import build_texture_model

    return Classifier(build_texture_model(), "texture", ["textured region", "plain"], "none")


@pytest.fixture(scope="module")
def texture_image():
    from known_models import texture_image

    return texture_image()


@pytest.fixture(scope="module")
def texture_explanation(texture_classifier, texture_image):
    """Integrated Gradients of the texture model: a real method's map, to build others from."""
    return explain.run("ig", texture_image, texture_classifier, [0], IntegratedGradientsParams(steps=4))


def _with_map(explanation, attribution):
    return dataclasses.replace(explanation, maps=np.asarray(attribution, np.float32)[None])


def test_cell_grid_scales_with_the_input_and_covers_every_pixel():
    assert metrics.cell_size((224, 224)) == 16 and metrics.cell_size((448, 300)) == 21
    grid = metrics.cell_grid((224, 224), 16)
    assert grid.max() + 1 == 196 and np.all(np.bincount(grid.ravel()) == 256)
    ragged = metrics.cell_grid((10, 7), 4)  # 3 × 2 cells, the last row and column smaller
    assert ragged.max() + 1 == 6 and ragged[9, 6] == 5 and ragged[3, 3] == 0
    means = metrics.cell_means(np.arange(70, dtype=float).reshape(10, 7), ragged)
    assert means[0] == pytest.approx(np.arange(70).reshape(10, 7)[:4, :4].mean())


def test_the_decisive_region_beats_the_band_its_negation_falls_below_a_random_map_inside(
        texture_classifier, texture_image, texture_explanation):
    truth = _with_map(texture_explanation, region_mask())
    negated = _with_map(texture_explanation, -region_mask().astype(float))
    noise = _with_map(texture_explanation, np.random.default_rng(7).random(region_mask().shape))
    scores = {name: metrics.faithfulness(texture_image, texture_classifier, e)
              for name, e in (("truth", truth), ("ig", texture_explanation), ("negated", negated),
                              ("noise", noise))}
    band = scores["truth"]["random_srg_mean"][0], scores["truth"]["random_srg_sd"][0]
    for result in scores.values():  # one band per image, shared by every map
        assert (result["random_srg_mean"][0], result["random_srg_sd"][0]) == band
    low, high = band[0] - 2 * band[1], band[0] + 2 * band[1]
    for name in ("truth", "ig"):
        assert scores[name]["srg"][0] > high and scores[name]["better_than_random"] == [True]
    # Removing the region first kills the class at once, removing it last keeps it.
    assert scores["truth"]["morf_auc"][0] < 0.15 and scores["truth"]["lerf_auc"][0] > 0.8
    assert scores["negated"]["srg"][0] < low and scores["negated"]["better_than_random"] == [False]
    assert low <= scores["noise"]["srg"][0] <= high and scores["noise"]["better_than_random"] == [False]
    assert scores["negated"]["srg"][0] == pytest.approx(-scores["truth"]["srg"][0], abs=1e-6)


def _independent_srg(image, weights, bias, attribution, cell_px, steps, sigma, target):
    """SRG from scratch: numpy softmax of the Dense model, scipy's blur, a loop over cells."""
    from scipy.ndimage import gaussian_filter

    x = image.astype(np.float64)
    blurred = gaussian_filter(x, (sigma, sigma, 0), mode="reflect", truncate=3.0)
    rows, cols = -(-x.shape[0] // cell_px), -(-x.shape[1] // cell_px)
    cells = [(r, c) for r in range(rows) for c in range(cols)]
    score = [attribution[r * cell_px:(r + 1) * cell_px, c * cell_px:(c + 1) * cell_px].mean() for r, c in cells]

    def probability(pixels):
        z = pixels.reshape(-1) @ weights + bias
        e = np.exp(z - z.max())
        return e[target] / e.sum()

    p0 = probability(x)

    def area(order):
        values, fractions = [], []
        for step in range(steps + 1):
            removed = x.copy()
            count = int(round(step * len(cells) / steps))
            fractions.append(count / len(cells))  # the x-axis: the share of cells removed
            for index in order[:count]:
                r, c = cells[index]
                window = (slice(r * cell_px, (r + 1) * cell_px), slice(c * cell_px, (c + 1) * cell_px))
                removed[window] = blurred[window]
            values.append(min(1.0, probability(removed) / p0))
        return sum((a + b) / 2 * (f1 - f0) for a, b, f0, f1 in zip(values, values[1:], fractions, fractions[1:]))

    most_first = sorted(range(len(cells)), key=lambda i: -score[i])
    least_first = sorted(range(len(cells)), key=lambda i: score[i])
    return area(least_first) - area(most_first)


def test_srg_equals_an_independent_computation(texture_classifier, texture_image, texture_explanation):
    from known_models import texture_weights

    weights, bias = texture_weights()
    # IG's map with a little noise: cells whose means differ only by rounding would be
    # ordered by how each implementation happens to sum them.
    ig = texture_explanation.maps[0].astype(np.float64)
    attribution = ig + 1e-3 * np.abs(ig).max() * np.random.default_rng(3).random(ig.shape)
    result = metrics.faithfulness(texture_image, texture_classifier, _with_map(texture_explanation, attribution),
                                  steps=10, pixel_steps=0)
    expected = _independent_srg(texture_image, weights.astype(np.float64), bias.astype(np.float64),
                                attribution.astype(np.float32).astype(np.float64), result["cell_px"], 10,
                                result["blur_sigma"], 0)
    assert result["cell_px"] == 5  # 16 * 64 / 224, rounded
    assert result["srg"][0] == pytest.approx(expected, abs=1e-5)
    assert result["srg"][0] == pytest.approx(result["lerf_auc"][0] - result["morf_auc"][0])


def test_faithfulness_result_shape_progress_and_json(texture_classifier, texture_image, texture_explanation):
    import json

    explanation = dataclasses.replace(texture_explanation, classes=[0, 1],
                                      maps=np.stack([texture_explanation.maps[0], -texture_explanation.maps[0]]))
    image = texture_image.copy()
    image[0, 0] = 0  # a new image: its random band is not cached yet
    reports = []
    result = metrics.faithfulness(image, texture_classifier, explanation, steps=6, random_orders=4,
                                  pixel_steps=3, batch_size=7,
                                  progress=lambda done, total, stage: reports.append((done, total, stage)))
    for key in ("srg", "morf_auc", "lerf_auc", "random_srg_mean", "random_srg_sd",
                "pixel_deletion_auc", "pixel_insertion_auc"):
        assert len(result[key]) == 2 and all(isinstance(v, float) for v in result[key])
    assert all(isinstance(v, bool) for v in result["better_than_random"])
    assert (result["cell_px"], result["steps"], result["substrate"]) == (5, 6, "blur")
    assert result["morf_curves"].shape == result["random_lerf_curves"].shape == (2, 7)
    assert result["fractions"][0] == 0 and result["fractions"][-1] == 1
    # Curves start at the image itself (ratio 1) and end at the fully blurred copy.
    np.testing.assert_allclose(result["morf_curves"][:, 0], 1)
    np.testing.assert_allclose(result["morf_curves"][:, -1], result["lerf_curves"][:, -1])
    expected = metrics.faithfulness_evaluations(2, 6, 4, 3)
    assert expected == 2 + 2 * 10 + 4 * 10 + 2 * 2 * 4
    done = [d for d, _, _ in reports]
    assert done == sorted(done) and reports[-1][:2] == (expected, expected)
    assert result["model_evaluations"] == expected
    summary = metrics.json_summary(result)
    assert "morf_curves" not in summary and json.loads(json.dumps(summary, allow_nan=False)) == summary
    # The same image again: the band comes from the cache, no evaluations for it.
    again = metrics.faithfulness(image, texture_classifier, explanation, steps=6, random_orders=4, pixel_steps=3)
    assert again["model_evaluations"] == metrics.faithfulness_evaluations(2, 6, 4, 3, band_cached=True)
    assert again["random_srg_mean"] == result["random_srg_mean"]
    # The per-pixel AUCs are the single-class deletion/insertion call's.
    single = metrics.deletion_insertion(image, texture_classifier, 1, explanation.maps[1], steps=3)
    assert single.deletion_auc == pytest.approx(result["pixel_deletion_auc"][1])
    assert single.insertion_auc == pytest.approx(result["pixel_insertion_auc"][1])


def test_faithfulness_cancel_stops_within_one_batch(texture_classifier, texture_image, texture_explanation):
    token = CancelToken()
    model = CancelDuringBatch(texture_classifier, token, batch_number=2)
    with pytest.raises(Cancelled):
        metrics.faithfulness(texture_image, model, texture_explanation, batch_size=8, cancel=token)
    assert model.calls == [2, 8]  # the image and its blur, then one batch of curve points


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
