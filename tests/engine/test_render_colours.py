"""One colour language: red = for the class, blue = against, in every signed map."""

import numpy as np

from engine.jobs import Explanation
from engine.render import AGAINST_BLUE, COLORBAR_LABELS, FOR_RED, SHAP_CMAP, LimeView, lime_image


def _lime_explanation():
    segments = np.zeros((8, 8), np.int64)
    segments[:, 4:] = 1  # left half: segment 0 (for), right half: segment 1 (against)
    image = np.full((8, 8, 3), 128, np.uint8)
    return Explanation(method="lime", image=image, maps=np.zeros((1, 8, 8), np.float32), classes=[0],
                       class_names=["cat"], probabilities=[0.9], params={}, timings={}, versions={}, model="test",
                       extras={"segments": segments, "segment_weights": np.array([[0.5, -0.3]])})


def test_lime_tints_segments_in_the_signed_maps_colours():
    picture = lime_image(_lime_explanation(), 0, LimeView("positive_negative", 2, boundaries=False))
    for_pixel, against_pixel = picture[4, 1], picture[4, 6]
    assert for_pixel[0] > for_pixel[2], "a segment for the class is red"
    assert against_pixel[2] > against_pixel[0], "a segment against the class is blue"
    # The same hues as the SHAP / IG colour map's ends.
    assert np.allclose(SHAP_CMAP(1.0)[:3], FOR_RED) and np.allclose(SHAP_CMAP(0.0)[:3], AGAINST_BLUE)


def test_signed_colour_bars_say_which_side_is_for():
    for method in ("shap", "shap-gradient", "ig"):
        label = COLORBAR_LABELS[method]
        assert label.endswith("\nagainst ← → for"), label
    assert "0 = none" in COLORBAR_LABELS["gradcam"]


def test_curve_colours_are_neither_the_for_red_nor_the_against_blue():
    from matplotlib.colors import to_rgb

    from engine.render import MORF_COLOUR, LERF_COLOUR, METHOD_COLOURS

    for colour in (MORF_COLOUR, LERF_COLOUR, *METHOD_COLOURS.values()):
        rgb = np.array(to_rgb(colour))
        for meaning in (FOR_RED, AGAINST_BLUE):
            assert np.abs(rgb - np.array(meaning)).sum() > 0.6, f"{colour} is too close to {meaning}"
