"""The command line on the trained EfficientNet-Lite0 (tests/real_model.py), as a user with a
real model runs it: the head kind in the JSON, softmax applied once to logits, a binary
model named by a 2-line labels file, Grad-CAM with ``--layer`` inside a nested model."""

import json

import numpy as np
import pytest
import real_model
from cli_runner import run_main as run  # in this process: tests/cli_runner.py
from PIL import Image

pytestmark = pytest.mark.slow  # a trained network: seconds per test


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for name in ("chelsea", "coffee"):
        Image.fromarray(real_model.sample_image(name)).save(folder / f"{name}.png")
    (folder / "binary.txt").write_text("\n".join(real_model.BINARY_NAMES) + "\n")
    return folder


@pytest.fixture(scope="module")
def logits_run(efficientnet_lite0, photos):
    """predict with the logits head on the default runtime (the one test of it here), every
    class listed: the reference for the binary head below."""
    result = run("predict", photos / "chelsea.png", photos / "coffee.png", "--model",
                 efficientnet_lite0("logits"), "--preprocess", "tf", "--top", "1000", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_predict_applies_softmax_once_to_logits_and_says_so(logits_run):
    chelsea, coffee = logits_run
    assert chelsea["head"] == coffee["head"] == "logits"
    top = chelsea["predictions"][:3]
    assert [p["index"] for p in top] == [real_model.EGYPTIAN_CAT, real_model.TIGER_CAT,
                                         real_model.TABBY]
    np.testing.assert_allclose([p["probability"] for p in top], [0.794, 0.088, 0.070], atol=0.0006)
    assert coffee["predictions"][0]["index"] == real_model.ESPRESSO
    assert coffee["predictions"][0]["probability"] == pytest.approx(0.902, abs=0.0006)
    assert sum(p["probability"] for p in chelsea["predictions"]) == pytest.approx(1.0, abs=1e-4)


def test_predict_a_binary_model_with_a_two_line_labels_file(efficientnet_lite0, photos, logits_run):
    result = run("predict", photos / "chelsea.png", photos / "coffee.png", "--model",
                 efficientnet_lite0("binary"), "--labels", photos / "binary.txt",
                 "--preprocess", "tf", "--runtime", "keras", "--json")
    assert result.returncode == 0, result.stderr
    for answer, reference in zip(json.loads(result.stdout), logits_run):
        assert answer["head"] == "binary"
        names = {p["name"]: p["probability"] for p in answer["predictions"]}
        assert set(names) == {"cat", "espresso"}
        # sigmoid(z_cat − z_espresso) = p_cat / (p_cat + p_espresso) of the softmax over logits.
        softmax = {p["index"]: p["probability"] for p in reference["predictions"]}
        cat, espresso = softmax[real_model.EGYPTIAN_CAT], softmax[real_model.ESPRESSO]
        assert names["cat"] == pytest.approx(cat / (cat + espresso), abs=1e-5)
        assert names["espresso"] == pytest.approx(espresso / (cat + espresso), abs=1e-5)
    chelsea, coffee = json.loads(result.stdout)
    assert chelsea["predictions"][0]["name"] == "cat"
    assert coffee["predictions"][0]["name"] == "espresso"


def test_gradcam_layer_inside_a_nested_model(efficientnet_lite0, photos, tmp_path):
    model = efficientnet_lite0("nested-classifier")
    result = run("explain", photos / "chelsea.png", "--model", model, "--preprocess", "tf",
                 "--runtime", "keras", "--method", "gradcam", "--classes", "1",
                 "--layer", "_conv_head", "--json", "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    (summary,) = json.loads(result.stdout)
    assert summary["head"] == "probabilities" and summary["params"]["layer"] == "_conv_head"
    assert summary["classes"] == [real_model.EGYPTIAN_CAT]
    assert summary["predictions"][0]["probability"] == pytest.approx(0.794, abs=0.0006)
    assert (tmp_path / "out" / "chelsea.gradcam.json").is_file()
