"""The command line as a user runs it: real files, exit codes, stderr.

Commands run in this process (tests/cli_runner.py) to save seconds of start-up each; the
untrained ResNet-50 end-to-end test runs ``predict`` and ``explain`` as real subprocesses,
so ``python main.py`` itself stays covered.
"""

import json

import numpy as np
import pytest
from cli_runner import run_main as run
from cli_runner import run_process
from PIL import Image


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from known_models import build_region_model, region_image

    folder = tmp_path_factory.mktemp("cli")
    build_region_model().save(folder / "region.keras")
    (folder / "labels.txt").write_text("bright region\ndark region\n")
    Image.fromarray(region_image()).save(folder / "region.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    return folder


def model_args(ws):
    return ["--model", ws / "region.keras", "--labels", ws / "labels.txt"]


def test_predict_json_schema(workspace):
    result = run("predict", workspace / "region.png", *model_args(workspace), "--top", "2", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data) == 1 and data[0]["image"] == str(workspace / "region.png")
    predictions = data[0]["predictions"]
    assert [p["index"] for p in predictions] == [0, 1]
    assert predictions[0]["name"] == "bright region"
    assert predictions[0]["probability"] >= predictions[1]["probability"]
    assert sum(p["probability"] for p in predictions) == pytest.approx(1, abs=1e-4)


def test_explain_writes_json_npz_png_and_is_reproducible(workspace, tmp_path):
    args = ["explain", workspace / "region.png", *model_args(workspace), "--method", "shap,lime",
            "--classes", "2", "--max-evals", "120", "--samples", "120", "--seed", "3"]
    first = run(*args, "--out", tmp_path / "a")
    assert first.returncode == 0, first.stderr
    second = run(*args, "--out", tmp_path / "b", "--recompute")
    assert second.returncode == 0, second.stderr
    assert "stored" not in second.stdout  # computed again, not read back
    for method in ("shap", "lime"):
        summary = json.loads((tmp_path / "a" / f"region.{method}.json").read_text())
        assert summary["method"] == method and summary["image"] == str(workspace / "region.png")
        assert summary["classes"] == [0, 1] and summary["model"] == "region.keras"
        assert [p["index"] for p in summary["predictions"]] == [0, 1]
        assert summary["timings"]["explain_s"] > 0
        assert set(summary["versions"]) >= {"python", "keras", "backend", "shap", "lime", "numpy"}
        params = summary["params"]
        if method == "shap":
            assert params == {"masker": "inpaint_telea", "max_evals": 120, "batch_size": 50}
        else:
            assert params["num_samples"] == 120 and params["seed"] == 3
            assert params["segmentation_params"] == {"kernel_size": 4, "max_dist": 200, "ratio": 0.2}
        with np.load(tmp_path / "a" / f"region.{method}.npz", allow_pickle=False) as arrays:
            assert arrays["maps"].dtype == np.float32 and arrays["maps"].shape == (2, 64, 64)
            assert arrays["classes"].tolist() == [0, 1]
            assert arrays["image"].dtype == np.uint8 and arrays["image"].shape == (64, 64, 3)
            with np.load(tmp_path / "b" / f"region.{method}.npz", allow_pickle=False) as again:
                np.testing.assert_array_equal(arrays["maps"], again["maps"])
        for label in ("0-bright_region", "1-dark_region"):  # index and class name
            png = Image.open(tmp_path / "a" / f"region.{method}.{label}.png")
            assert png.size[0] > 400 and len(set(png.convert("RGB").getdata())) > 50
    assert not list((tmp_path / "a").glob("*.part"))


def test_untrained_resnet_end_to_end(tmp_path):
    from skimage import data

    Image.fromarray(data.chelsea()).save(tmp_path / "chelsea.jpg")
    result = run_process("explain", tmp_path / "chelsea.jpg", "--weights", "none", "--method", "lime",
                 "--classes", "1", "--samples", "20", "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "untrained" in result.stdout
    summary = json.loads((tmp_path / "out" / "chelsea.lime.json").read_text())
    assert summary["untrained"] is True and "untrained" in summary["model"]
    with np.load(tmp_path / "out" / "chelsea.lime.npz") as arrays:
        assert arrays["maps"].shape == (1, 224, 224)
    predicted = run_process("predict", tmp_path / "chelsea.jpg", "--weights", "none", "--top", "3")
    assert predicted.returncode == 0 and "untrained" in predicted.stdout


def test_bad_images_are_reported_and_the_rest_still_run(workspace):
    result = run("predict", workspace / "broken.png", workspace / "missing.jpg", workspace / "region.png",
                 *model_args(workspace), "--json")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert any("broken.png" in line for line in errors) and any("missing.jpg" in line for line in errors)
    assert "Traceback" not in result.stderr
    assert [entry["image"] for entry in json.loads(result.stdout)] == [str(workspace / "region.png")]


def test_missing_weights_offline_is_one_clear_line(tmp_path):
    Image.new("RGB", (32, 32)).save(tmp_path / "x.png")
    env = {"KERAS_HOME": str(tmp_path / "keras"), "IMAGE_EXPLAINER_WEIGHTS_URL": "http://127.0.0.1:9/none.h5"}
    result = run("predict", tmp_path / "x.png", env=env)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr
    assert "resnet50_weights_tf_dim_ordering_tf_kernels.h5" in errors[0]
    assert str(tmp_path / "keras" / "models") in errors[0]


@pytest.mark.parametrize("extra, message", [
    (["--method", "deeplift"], "unknown method"),
    (["--masker", "zeros"], "masker"),
    (["--seg-param", "kernel_size"], "NAME=VALUE"),
    (["--segmentation", "slic", "--seg-param", "kernel_size=3"], "no parameter kernel_size"),
    (["--classes", "5"], "only 2 classes"),
])
def test_usage_errors_exit_2_without_traceback(workspace, extra, message):
    result = run("explain", workspace / "region.png", *model_args(workspace), *extra)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_model_with_code_is_refused_from_the_command_line(tmp_path, workspace):
    import keras

    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Lambda(lambda t: t / 255.0)(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    refused = run("predict", workspace / "region.png", "--model", tmp_path / "lambda.keras")
    assert refused.returncode == 2 and "--trust-model" in refused.stderr
    trusted = run("predict", workspace / "region.png", "--model", tmp_path / "lambda.keras", "--trust-model")
    assert trusted.returncode == 0, trusted.stderr


def test_exported_files_get_normal_permissions(workspace, tmp_path):
    result = run("explain", workspace / "region.png", *model_args(workspace), "--method", "lime",
                 "--classes", "1", "--samples", "30", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    for path in tmp_path.iterdir():
        assert path.stat().st_mode & 0o044, f"{path.name} is readable only by its owner"


def test_faithfulness_and_sanity_json(workspace, tmp_path):
    """The texture model's decisive region is lost in a blur: IG's map of it beats the random
    band; with the only layer random, the map no longer follows it."""
    from known_models import build_texture_model, texture_image

    build_texture_model().save(tmp_path / "texture.keras")
    Image.fromarray(texture_image()).save(tmp_path / "texture.png")
    result = run("explain", tmp_path / "texture.png", "--model", tmp_path / "texture.keras", "--method", "ig",
                 "--classes", "2", "--ig-steps", "16", "--metrics", "--sanity", "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "out" / "texture.ig.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    summary = json.loads(text)
    metrics = summary["metrics"]
    assert metrics["classes"] == summary["classes"]
    for key in ("srg", "morf_auc", "lerf_auc", "random_srg_mean", "random_srg_sd", "better_than_random",
                "pixel_deletion_auc", "pixel_insertion_auc"):
        assert len(metrics[key]) == 2, key
    assert (metrics["cell_px"], metrics["steps"], metrics["substrate"]) == (5, 20, "blur")
    assert all(-1 <= v <= 1 for v in metrics["srg"]) and all(0 <= v <= 1 for v in metrics["morf_auc"])
    top = summary["classes"].index(0)
    assert metrics["better_than_random"][top] is True
    assert metrics["srg"][top] > metrics["random_srg_mean"][top] + 2 * metrics["random_srg_sd"][top]
    sanity = summary["sanity"]
    assert sanity["layers"] == ["decision"] and np.shape(sanity["spearman"]) == np.shape(sanity["ssim"]) == (1, 2)
    assert sanity["does_not_depend_on_model"] == [False, False]
    with np.load(tmp_path / "out" / "texture.ig.npz", allow_pickle=False) as arrays:
        assert arrays["metrics_morf_curves"].shape == (2, 21)
        assert arrays["sanity_maps"].shape == (1, 2, 64, 64)
    assert Image.open(tmp_path / "out" / "texture.ig.0-class_0.png").size[0] > 400


def test_explain_reuses_a_stored_result_with_the_same_settings_only(workspace, tmp_path):
    args = ["explain", workspace / "region.png", *model_args(workspace), "--method", "lime",
            "--classes", "1", "--samples", "60", "--seed", "11"]
    first = run(*args, "--out", tmp_path / "a")
    assert first.returncode == 0, first.stderr
    assert "stored" not in first.stdout
    again = run(*args, "--out", tmp_path / "b")
    assert again.returncode == 0, again.stderr
    assert "lime: bright region" in again.stdout and " stored 20" in again.stdout
    with np.load(tmp_path / "a" / "region.lime.npz") as a, np.load(tmp_path / "b" / "region.lime.npz") as b:
        np.testing.assert_array_equal(a["maps"], b["maps"])
        np.testing.assert_array_equal(a["segments"], b["segments"])
    other = run(*args[:-1], "12", "--out", tmp_path / "c")
    assert other.returncode == 0 and "stored" not in other.stdout


def test_explain_stability_reruns_match_an_independent_spread(workspace, tmp_path):
    from engine import explain
    from engine.explain.lime_image import LimeParams
    from engine.images import load_image
    from engine.models import ModelSpec, load_classifier

    result = run("explain", workspace / "region.png", *model_args(workspace), "--method", "lime,shap",
                 "--classes", "1", "--samples", "60", "--max-evals", "60", "--seed", "2", "--stability", "2",
                 "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    info = json.loads((tmp_path / "region.lime.json").read_text())
    assert info["stability"]["runs"] == 3 and info["stability"]["seeds"] == [2, 3, 4]
    assert "stability" not in json.loads((tmp_path / "region.shap.json").read_text())  # no randomness
    classifier = load_classifier(ModelSpec(model=str(workspace / "region.keras"),
                                           labels=str(workspace / "labels.txt")))
    image = load_image(workspace / "region.png")
    maps = [explain.run("lime", image, classifier, [0], LimeParams(num_samples=60, seed=s)).maps[0]
            for s in (2, 3, 4)]
    with np.load(tmp_path / "region.lime.npz") as arrays:
        np.testing.assert_allclose(arrays["stability_spread"][0], np.std(maps, axis=0), rtol=1e-4, atol=1e-6)


def test_gradcam_on_the_untrained_resnet(tmp_path):
    from skimage import data

    Image.fromarray(data.coffee()).save(tmp_path / "coffee.png")
    result = run("explain", tmp_path / "coffee.png", "--weights", "none", "--method", "gradcam",
                 "--classes", "2", "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "coffee.gradcam.json").read_text())
    assert summary["params"]["layer"] == "conv5_block3_out"
    with np.load(tmp_path / "out" / "coffee.gradcam.npz") as arrays:
        assert arrays["maps"].shape == (2, 224, 224) and arrays["maps"].min() >= 0


def test_runtime_and_precision_choices_are_recorded(workspace, tmp_path):
    from engine.openvino_forward import cpu_has_bfloat16

    result = run("explain", workspace / "region.png", *model_args(workspace), "--method", "shap",
                 "--max-evals", "40", "--classes", "1", "--runtime", "keras", "--out", tmp_path / "k")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "k" / "region.shap.json").read_text())["model"] == "region.keras"
    result = run("explain", workspace / "region.png", *model_args(workspace), "--method", "shap",
                 "--max-evals", "40", "--classes", "1", "--precision", "bfloat16", "--out", tmp_path / "b")
    if not cpu_has_bfloat16():
        assert result.returncode == 2 and "no bfloat16 instructions" in result.stderr
        assert "Traceback" not in result.stderr
        return
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "b" / "region.shap.json").read_text())["model"] == "region.keras (bfloat16)"
    result = run("predict", workspace / "region.png", *model_args(workspace), "--runtime", "keras",
                 "--precision", "bfloat16")
    assert result.returncode == 2 and "bfloat16 runs on the OpenVINO runtime only" in result.stderr
