"""The command line with an ONNX model: explain with SHAP and LIME, gradient methods
refused in one line, layouts that must be given, broken files. Commands run in this process
(tests/cli_runner.py)."""

import json

import numpy as np
import onnx_models
import pytest
from cli_runner import run_main as run
from PIL import Image


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from known_models import region_image

    folder = tmp_path_factory.mktemp("cli_onnx")
    onnx_models.save(onnx_models.region_net(), folder / "region.onnx")
    onnx_models.save(onnx_models.conv_net(size=3), folder / "square" / "tiny.onnx")  # [batch, 3, 3, 3]
    Image.fromarray(region_image()).save(folder / "photo.png")
    return folder


def test_explain_writes_shap_and_lime_for_an_onnx_model(workspace, tmp_path):
    from known_models import positive_share_in_region

    result = run("explain", workspace / "photo.png", "--model", workspace / "region.onnx",
                 "--method", "shap,lime", "--classes", "1", "--max-evals", "200", "--samples", "200",
                 "--out", tmp_path, "--json")
    assert result.returncode == 0, result.stderr
    summaries = json.loads(result.stdout)
    assert [s["method"] for s in summaries] == ["shap", "lime"]
    assert all(s["model"] == "region.onnx" for s in summaries)
    for method in ("shap", "lime"):
        maps = np.load(tmp_path / f"photo.{method}.npz")["maps"]
        assert positive_share_in_region(maps[0]) > 0.5
        written = json.loads((tmp_path / f"photo.{method}.json").read_text())
        assert written["predictions"][0]["name"] == "bright region"


@pytest.mark.parametrize("methods", ["gradcam", "shap-gradient"])
def test_a_gradient_method_alone_is_refused_in_one_line(workspace, methods):
    extra = ["--background", workspace] if "shap-gradient" in methods else []
    result = run("explain", workspace / "photo.png", "--model", workspace / "region.onnx",
                 "--method", methods, *extra)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: {methods} skipped: {methods} needs gradients; "
                                     "ONNX models support shap and lime")
    assert result.stdout == ""  # refused before any image was explained


def test_a_gradient_method_beside_others_is_skipped_and_the_rest_runs(workspace):
    result = run("explain", workspace / "photo.png", "--model", workspace / "region.onnx",
                 "--method", "shap,ig", "--max-evals", "100")
    assert result.returncode == 1  # one method could not run
    assert result.stderr.strip() == "error: ig skipped: ig needs gradients; ONNX models support shap and lime"
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and " shap: " in lines[0]


def test_a_layout_the_shape_cannot_tell_is_asked_for_then_used(workspace):
    image = workspace / "small.png"
    Image.fromarray(np.full((3, 3, 3), 128, np.uint8)).save(image)
    model = workspace / "square" / "tiny.onnx"
    refused = run("predict", image, "--model", model)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "--layout NCHW or --layout NHWC" in refused.stderr
    given = run("predict", image, "--model", model, "--layout", "nchw", "--json")
    assert given.returncode == 0, given.stderr
    assert len(json.loads(given.stdout)[0]["predictions"]) == 5


def test_a_broken_onnx_file_is_one_line(workspace, tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes((workspace / "region.onnx").read_bytes()[:300])
    result = run("predict", workspace / "photo.png", "--model", broken)
    assert result.returncode == 2
    assert result.stderr.startswith("error: broken.onnx: not a readable ONNX file")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_the_sanity_check_on_an_onnx_model_is_one_line(workspace):
    result = run("explain", workspace / "photo.png", "--model", workspace / "region.onnx",
                 "--method", "shap", "--sanity")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --sanity randomises Keras layers; region.onnx is not a Keras model"
    assert result.stdout == ""
