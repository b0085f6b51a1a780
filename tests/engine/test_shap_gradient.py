"""Background-set SHAP (Deep / Gradient explainer) on known-answer models, and the
images × classes grid it is shown in."""

import numpy as np
import pytest
from known_models import SIZE, build_region_model, positive_share_in_region

from engine import explain
from engine.errors import Cancelled, EngineError, ModelError
from engine.explain.shap_gradient import ShapGradientParams, load_background
from engine.jobs import CancelToken
from engine.models import Classifier


def dark_background(count=6, seed=1):
    """Typical 'nothing there' images: dark, noisy, no bright square."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 60, (count, SIZE, SIZE, 3)).astype(np.uint8)


@pytest.fixture(scope="module")
def logits_classifier():
    """The region model without softmax: linear in the pixels, which DeepExplainer handles exactly."""
    import keras

    source = build_region_model()
    inputs = keras.Input((SIZE, SIZE, 3))
    dense = keras.layers.Dense(2, name="decision")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    dense.set_weights(source.get_layer("decision").get_weights())
    return Classifier(model, "region logits", ["bright region", "dark region"], "none",
                      outputs_probabilities=False)


def test_auto_puts_positive_mass_on_the_region_and_says_which_explainer_ran(region_classifier, region_image):
    reports = []
    params = ShapGradientParams(background_images=dark_background(), samples=100, batch_size=25)
    result = explain.run("shap-gradient", region_image, region_classifier, [0, 1], params,
                         progress=lambda done, total, stage: reports.append((done, total, stage)))
    assert result.method == "shap-gradient" and result.classes == [0, 1]
    assert result.maps.shape == (2, SIZE, SIZE) and result.extras["values"].shape == (2, SIZE, SIZE, 3)
    assert result.params["explainer"] in ("DeepExplainer", "GradientExplainer")
    if result.params["explainer"] == "GradientExplainer":  # auto tried Deep first and says why not
        assert result.params["explainer_note"].startswith("DeepExplainer failed")
    assert positive_share_in_region(result.maps[0]) > 0.5
    # "dark region" is pushed away by the bright square: its mass there is negative.
    assert result.maps[1][8:28, 8:28].sum() < 0
    assert result.params["background_count"] == 6 and result.params["samples"] == 100
    done, total, _ = reports[-1]
    assert done == total and result.timings["model_evaluations"] == total
    assert all(b[0] >= a[0] for a, b in zip(reports, reports[1:]))


def test_gradient_explainer_on_request(region_classifier, region_image):
    params = ShapGradientParams(background_images=dark_background(), samples=100, explainer="gradient")
    result = explain.run("shap-gradient", region_image, region_classifier, [0], params)
    assert result.params["explainer"] == "GradientExplainer" and result.params["explainer_note"] == ""
    assert positive_share_in_region(result.maps[0]) > 0.5


def test_deep_explainer_is_exact_on_a_linear_model(logits_classifier, region_image):
    background = dark_background()
    params = ShapGradientParams(background_images=background, explainer="deep", batch_size=4)
    result = explain.run("shap-gradient", region_image, logits_classifier, [0, 1], params)
    assert result.params["explainer"] == "DeepExplainer" and result.params["output"] == "logit"
    assert positive_share_in_region(result.maps[0]) > 0.95
    # SHAP values add up: f(x) - E[f(background)], per class (background fed in chunks of 2).
    model = logits_classifier.keras_model
    fx = np.asarray(model(region_image[None].astype(np.float32)))[0]
    expected = np.asarray(model(background.astype(np.float32))).mean(axis=0)
    np.testing.assert_allclose(result.extras["expected_values"], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(result.maps.sum(axis=(1, 2)), fx - expected, rtol=1e-3, atol=1e-3)


def test_auto_falls_back_when_deep_explainer_breaks(region_classifier, region_image, monkeypatch):
    import shap

    def broken(*args, **kwargs):
        raise NotImplementedError("op not supported")

    monkeypatch.setattr(shap, "DeepExplainer", broken)
    fresh = Classifier(region_classifier.keras_model, "fresh", region_classifier.class_names, "none")
    params = ShapGradientParams(background_images=dark_background(), samples=50)
    result = explain.run("shap-gradient", region_image, fresh, [0], params)
    assert result.params["explainer"] == "GradientExplainer"
    assert "op not supported" in result.params["explainer_note"]
    assert positive_share_in_region(result.maps[0]) > 0.5
    params.explainer = "deep"
    with pytest.raises(ModelError, match="DeepExplainer failed.*--explainer gradient"):
        explain.run("shap-gradient", region_image, fresh, [0], params)


@pytest.mark.parametrize("explainer", ["auto", "gradient"])
def test_cancel_stops_within_a_batch(region_classifier, region_image, explainer):
    token = CancelToken()
    reports = []

    def progress(done, total, stage):
        reports.append((done, total))
        if done > 0:
            token.cancel()

    params = ShapGradientParams(background_images=dark_background(), samples=200, batch_size=10,
                                explainer=explainer)
    with pytest.raises(Cancelled):
        explain.run("shap-gradient", region_image, region_classifier, [0, 1], params, progress, token)
    done, total = reports[-1]
    assert 0 < done < total


def test_background_folder_skips_bad_files_and_takes_a_subset(tmp_path, region_classifier, region_image):
    from PIL import Image

    for i, picture in enumerate(dark_background(5)):
        Image.fromarray(picture).resize((48, 40)).save(tmp_path / f"bg{i}.png")  # any size: resized
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    images, notes = load_background(tmp_path, (SIZE, SIZE), max_images=10)
    assert images.shape == (5, SIZE, SIZE, 3) and images.dtype == np.uint8
    assert len(notes) == 1 and notes[0].startswith("broken.jpg")
    subset, _ = load_background(tmp_path, (SIZE, SIZE), max_images=3, seed=2)
    assert len(subset) == 3
    params = ShapGradientParams(background=str(tmp_path), max_background=4, samples=50, explainer="gradient")
    result = explain.run("shap-gradient", region_image, region_classifier, [0], params)
    assert result.params["background"] == str(tmp_path) and result.params["background_count"] == 4
    assert positive_share_in_region(result.maps[0]) > 0.5


def test_background_problems_are_clear(tmp_path, region_classifier, region_image):
    with pytest.raises(ValueError, match="needs background images"):
        explain.run("shap-gradient", region_image, region_classifier, [0])
    (tmp_path / "bad.png").write_bytes(b"junk")
    with pytest.raises(EngineError, match="none of the 1 background images could be read"):
        load_background(tmp_path, (SIZE, SIZE))
    (tmp_path / "empty").mkdir()
    with pytest.raises(EngineError, match="no images"):
        load_background(tmp_path / "empty", (SIZE, SIZE))
    with pytest.raises(ValueError, match="unknown SHAP explainer"):
        ShapGradientParams(background="x", explainer="kernel").validate()


def test_grey_model_is_explained_on_rgb_pixels(region_image):
    import keras

    inputs = keras.Input((SIZE, SIZE, 1))
    dense = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    weights = np.zeros((SIZE, SIZE, 1, 2), np.float32)
    weights[8:28, 8:28, 0, 0] = 12.0 / (255.0 * 400)
    # Scaled for 0-1 inputs, so the wrapper must apply the classifier's "unit" preprocessing.
    dense.set_weights([weights.reshape(-1, 2) * 255.0, np.array([0.0, 6.0], np.float32)])
    grey = Classifier(model, "grey", ["bright", "dark"], "unit")
    assert grey.predict(region_image)[0, 0] > 0.8
    params = ShapGradientParams(background_images=dark_background(), samples=100, explainer="gradient")
    result = explain.run("shap-gradient", region_image, grey, [0], params)
    assert result.extras["values"].shape == (1, SIZE, SIZE, 3)
    assert positive_share_in_region(result.maps[0]) > 0.5


def test_saved_model_classifier(tmp_path, region_image):
    from engine.models import ModelSpec, load_classifier

    build_region_model().export(str(tmp_path / "sm"), verbose=False)
    classifier = load_classifier(ModelSpec(model=str(tmp_path / "sm"), trust=True))
    params = ShapGradientParams(background_images=dark_background(), samples=50, explainer="gradient")
    result = explain.run("shap-gradient", region_image, classifier, [0], params)
    assert positive_share_in_region(result.maps[0]) > 0.5


@pytest.mark.slow
def test_untrained_resnet_wiring(untrained_resnet):
    """Wiring, shapes and both explainers' plumbing on a real-size network (no right answer)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    params = ShapGradientParams(background_images=rng.integers(0, 256, (3, 224, 224, 3), dtype=np.uint8),
                                samples=4, batch_size=4)
    result = explain.run("shap-gradient", image, untrained_resnet, [281], params)
    assert result.maps.shape == (1, 224, 224) and np.isfinite(result.maps).all()
    assert result.params["explainer"] in ("DeepExplainer", "GradientExplainer") and result.untrained


# --- the images × classes grid -------------------------------------------------------------

def test_grid_has_rows_by_classes_plus_one_and_one_symmetric_colour_bar():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_rgb

    from engine.render import PREDICTED_COLOUR, TRUE_COLOUR, draw_grid, new_figure, symmetric_limit

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    maps = rng.normal(0, 1, (2, 3, 32, 32)).astype(np.float32)
    maps[1, 2] *= 5  # one strong cell: every cell must still share its scale
    figure = new_figure(8, 5)
    FigureCanvasAgg(figure)
    draw_grid(figure, images, maps, ["cat", "dog", "fox"], ["a.png", "b.png"],
              true_classes=[0, 2], predicted_classes=[0, 1])
    colorbars = [ax for ax in figure.axes if hasattr(ax, "_colorbar")]
    image_axes = [ax for ax in figure.axes if ax.images and not hasattr(ax, "_colorbar")]
    assert len(colorbars) == 1 and len(image_axes) == 2 * (3 + 1)
    low, high = colorbars[0]._colorbar.mappable.get_clim()
    assert low == -high and high == pytest.approx(symmetric_limit(maps))
    cells = [ax.images[-1] for ax in image_axes if len(ax.images) == 2]  # backdrop + map
    assert len(cells) == 6 and all(c.get_clim() == (low, high) for c in cells)
    grid = np.array(image_axes, dtype=object).reshape(2, 4)
    assert [grid[0, j].get_title() for j in range(4)] == ["image", "cat", "dog", "fox"]

    def framed(ax):
        spine = ax.spines["top"]
        return spine.get_visible() and tuple(spine.get_edgecolor()[:3]) == pytest.approx(to_rgb(TRUE_COLOUR))

    def predicted(ax):
        return any(p.get_gid() == "predicted" for p in ax.patches)

    assert [framed(grid[0, j]) for j in (1, 2, 3)] == [True, False, False]
    assert [framed(grid[1, j]) for j in (1, 2, 3)] == [False, False, True]
    assert [predicted(grid[0, j]) for j in (1, 2, 3)] == [True, False, False]
    assert [predicted(grid[1, j]) for j in (1, 2, 3)] == [False, True, False]
    assert PREDICTED_COLOUR != TRUE_COLOUR


def test_grid_saves_as_png_and_pdf(tmp_path):
    from engine.render import save_grid

    rng = np.random.default_rng(0)
    args = (rng.integers(0, 256, (1, 16, 16, 3), dtype=np.uint8), rng.normal(size=(1, 2, 16, 16)),
            ["a", "b"], ["x"], None, [1])
    save_grid(tmp_path / "g.png", *args)
    save_grid(tmp_path / "g.pdf", *args)
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "g.pdf").read_bytes()[:5] == b"%PDF-"
