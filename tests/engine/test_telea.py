"""The Telea inpainting kernel must give cv2.inpaint's image, byte for byte.

SHAP's inpaint_telea masker runs it hundreds of times per explanation, so any difference
would change the maps; "close" is not enough.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.explain import telea


def _photo(name: str) -> np.ndarray:
    from skimage import data

    from engine.images import fit_to_model

    return fit_to_model(getattr(data, name)(), (224, 224))


@pytest.fixture(scope="module")
def photos():
    return [_photo(name) for name in ("chelsea", "coffee", "astronaut")]


def _random_masks(rng: np.random.Generator, count: int, shape=(224, 224)) -> list[np.ndarray]:
    """Rectangles of every size, some touching the edges, some with scattered pixels."""
    masks = []
    for _ in range(count):
        mask = np.zeros(shape, np.uint8)
        for _ in range(rng.integers(1, 6)):
            y, x = rng.integers(-20, shape[0], 2)
            h, w = rng.integers(1, 140, 2)
            mask[max(y, 0):y + h, max(x, 0):x + w] = 1
        if rng.random() < 0.3:
            mask |= (rng.random(shape) < 0.05).astype(np.uint8)
        masks.append(mask)
    return masks


def _assert_same(image, mask):
    want = cv2.inpaint(image, mask, 3, cv2.INPAINT_TELEA)
    got = telea.inpaint(image, mask)
    assert got.dtype == np.uint8 and got.shape == image.shape
    differ = int((got != want).sum())
    assert differ == 0, f"{differ} values differ from cv2.inpaint (mask covers {int(mask.sum())} px)"


def test_random_masks_match_opencv(photos):
    rng = np.random.default_rng(7)
    for n, mask in enumerate(_random_masks(rng, 240)):
        _assert_same(photos[n % len(photos)], mask)


@pytest.mark.parametrize("case", ["one pixel", "all but one", "left column", "top row",
                                  "bottom-right corner", "checkerboard", "thin lines", "nothing"])
def test_edge_cases_match_opencv(photos, case):
    mask = np.zeros((224, 224), np.uint8)
    if case == "one pixel":
        mask[100, 37] = 1
    elif case == "all but one":
        mask[:] = 1
        mask[5, 200] = 0
    elif case == "left column":
        mask[:, 0] = 1
    elif case == "top row":
        mask[0, :] = 1
    elif case == "bottom-right corner":
        mask[180:, 190:] = 1
    elif case == "checkerboard":
        mask[::2, ::2] = 1
        mask[1::2, 1::2] = 1
    elif case == "thin lines":
        mask[::7, :] = 1
        mask[:, 3::11] = 1
    _assert_same(photos[0], mask)


def test_odd_sizes_match_opencv():
    rng = np.random.default_rng(3)
    for height, width in ((5, 9), (33, 17), (64, 200)):
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        for mask in _random_masks(rng, 10, (height, width)):
            _assert_same(image, mask)


def test_partition_masks_match_shaps_masker(photos):
    """The masks SHAP's Partition explainer really asks for: the whole masker path (which
    pixels are filled, the all-hidden case) against shap's own ``Image`` masker."""
    import shap

    image = photos[1]
    masker = shap.maskers.Image("inpaint_telea", image.shape)
    asked = []

    def model(x):
        keep = np.asarray(x)
        asked.append(keep)
        return keep.reshape(len(keep), -1)[:, ::997].astype(np.float32).mean(axis=1, keepdims=True)

    from engine.explain.shap_partition import _deferred_masker

    explainer = shap.explainers.Partition(model, _deferred_masker("inpaint_telea", image.shape))
    explainer(image[None], max_evals=120, batch_size=40, silent=True)
    keeps = np.concatenate(asked).reshape(-1, image.size).astype(bool)
    assert len(keeps) >= 100
    hidden_everywhere = 0
    for keep in keeps:
        want = masker(keep, image.ravel())[0].reshape(-1)
        got = telea.shap_masked_image(image, keep)
        if got is None:  # every pixel hidden: shap paints the mean colour, left to shap
            hidden_everywhere += 1
            assert not keep.any()
            continue
        assert np.array_equal(got, want)
    assert hidden_everywhere == 1


def test_a_pixel_is_filled_when_any_channel_is_hidden(photos):
    import shap

    image = photos[2]
    keep = np.ones(image.shape, bool)
    keep[50:90, 60:120, 1] = False  # one channel only
    want = shap.maskers.Image("inpaint_telea", image.shape)(keep.ravel(), image.ravel())[0]
    got = telea.shap_masked_image(image, keep.ravel())
    assert np.array_equal(got, want.reshape(-1))
    assert not np.array_equal(got, image.ravel())


def test_other_inputs_go_to_opencv():
    rng = np.random.default_rng(5)
    grey = rng.integers(0, 256, (40, 40), dtype=np.uint8)
    mask = np.zeros((40, 40), np.uint8)
    mask[10:20, 10:30] = 1
    assert np.array_equal(telea.inpaint(grey, mask), cv2.inpaint(grey, mask, 3, cv2.INPAINT_TELEA))
    colour = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    assert np.array_equal(telea.inpaint(colour, mask, radius=5),
                          cv2.inpaint(colour, mask, 5, cv2.INPAINT_TELEA))
