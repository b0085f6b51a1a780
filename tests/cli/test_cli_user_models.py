"""The command line with a user's own model: evaluate, the images × classes grid with
background-set SHAP, and SavedModel trust. Real files; commands run in this process
(tests/cli_runner.py) except the first evaluate, a real subprocess so ``python main.py
evaluate`` itself stays covered."""

import json
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_main as run
from cli_runner import run_process
from PIL import Image


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from known_models import REGION, build_region_model, region_image

    folder = tmp_path_factory.mktemp("cli_user")
    build_region_model().save(folder / "region.keras")
    (folder / "labels.txt").write_text("bright region\ndark region\n")
    rng = np.random.default_rng(3)
    for sub, (low, high) in {"bright_region": (60, 256), "Dark Region": (0, 200)}.items():
        (folder / "data" / sub).mkdir(parents=True)
        for i in range(4):
            image = region_image().copy()
            image[REGION] = rng.integers(low, high, 3)
            Image.fromarray(image).save(folder / "data" / sub / f"{sub[0]}{i}.png")
    (folder / "background").mkdir()
    for i in range(4):
        Image.fromarray(rng.integers(0, 60, (64, 64, 3)).astype(np.uint8)).save(folder / "background" / f"{i}.png")
    return folder


def model_args(ws):
    return ["--model", ws / "region.keras", "--labels", ws / "labels.txt"]


def test_evaluate_writes_metrics_json_and_confusion_png(workspace, tmp_path):
    from engine.evaluate import evaluate_folder
    from engine.models import ModelSpec, load_classifier

    result = run_process("evaluate", workspace / "data", *model_args(workspace), "--out", tmp_path / "eval",
                         "--batch-size", "3")
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout and "bright region" in result.stdout
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert set(metrics) >= {"labels", "accuracy", "confusion_matrix", "per_class", "misclassified"}
    assert metrics["labels"] == ["bright region", "dark region"]

    classifier = load_classifier(ModelSpec(model=str(workspace / "region.keras"), labels=str(workspace / "labels.txt")))
    expected = evaluate_folder(workspace / "data", classifier)
    assert metrics["confusion_matrix"] == expected.confusion_matrix.tolist()
    assert sum(map(sum, metrics["confusion_matrix"])) == 8
    assert metrics["accuracy"] == pytest.approx(expected.accuracy)
    assert set(metrics["per_class"]) == {"bright region", "dark region"}
    for label, values in metrics["per_class"].items():
        assert set(values) == {"precision", "recall", "support"} and values["support"] == 4
    assert len(metrics["misclassified"]) == 8 - np.trace(expected.confusion_matrix)
    for item in metrics["misclassified"]:
        assert set(item) >= {"file", "true", "predicted", "probability"} and Path(item["file"]).exists()
    png = Image.open(tmp_path / "eval" / "confusion_matrix.png")
    assert png.size[0] > 300 and len(set(png.convert("RGB").getdata())) > 20


def test_evaluate_bad_folder_is_one_line_and_exit_2(workspace, tmp_path):
    (tmp_path / "data" / "bright region").mkdir(parents=True)
    (tmp_path / "data" / "puppies").mkdir()
    result = run("evaluate", tmp_path / "data", *model_args(workspace))
    assert result.returncode == 2
    errors = error_lines(result)
    assert len(errors) == 1 and "puppies" in errors[0] and "bright region, dark region" in errors[0]
    assert "Traceback" not in result.stderr


def test_evaluate_skips_an_unknown_sub_folder_with_one_note_and_exit_1(workspace, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(workspace / "data", data)
    (data / "puppies").mkdir()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(data / "puppies" / "p.png")
    result = run("evaluate", data, *model_args(workspace), "--json")
    assert result.returncode == 1, result.stderr
    notes = [line for line in result.stderr.splitlines() if "skipped" in line]
    assert len(notes) == 1 and notes[0].startswith("note: 1 sub-folder matches no class label")
    assert "puppies" in notes[0] and not error_lines(result)
    metrics = json.loads(result.stdout)
    assert metrics["skipped_folders"] == ["puppies"] and metrics["total"] == 8


def test_grid_with_background_shap(workspace, tmp_path):
    images = sorted((workspace / "data").rglob("*.png"))[:3]
    result = run("explain", *images, *model_args(workspace), "--method", "shap-gradient",
                 "--background", workspace / "background", "--gradient-samples", "40",
                 "--grid", "--all-classes", "--pdf", "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    with np.load(out / "grid.npz", allow_pickle=False) as arrays:
        assert arrays["maps"].shape == (3, 2, 64, 64) and arrays["maps"].dtype == np.float32
        assert arrays["images"].shape == (3, 64, 64, 3) and arrays["classes"].tolist() == [0, 1]
        assert arrays["class_names"].tolist() == ["bright region", "dark region"]
        assert arrays["predicted_classes"].shape == (3,)
        truth = [0 if "bright" in Path(f).parent.name else 1 for f in arrays["files"]]
        assert arrays["true_classes"].tolist() == truth  # from the class folder each image is in
    summary = json.loads((out / "grid.json").read_text())
    assert summary["method"] == "shap-gradient"
    assert summary["params"]["explainer"] in ("DeepExplainer", "GradientExplainer")
    assert summary["params"]["background_count"] == 4 and summary["params"]["samples"] == 40
    png = Image.open(out / "grid.png")
    assert png.size[1] > png.size[0] * 0.8  # three rows of three cells
    assert (out / "grid.pdf").read_bytes()[:5] == b"%PDF-"


@pytest.mark.parametrize("extra, message", [
    (["--method", "shap-gradient"], "needs --background"),
    (["--grid", "--method", "shap"], "--grid needs --out"),
    (["--grid", "--method", "shap,lime", "--out", "x"], "--grid draws one method"),
])
def test_grid_and_background_usage_errors(workspace, extra, message):
    image = next((workspace / "data").rglob("*.png"))
    result = run("explain", image, *model_args(workspace), *extra)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_saved_model_needs_trust_on_the_command_line(workspace, tmp_path):
    from known_models import build_region_model

    build_region_model().export(str(tmp_path / "exported"), verbose=False)
    (tmp_path / "exported" / "labels.txt").write_text("bright region\ndark region\n")
    image = next((workspace / "data" / "bright_region").glob("*.png"))
    refused = run("predict", image, "--model", tmp_path / "exported")
    assert refused.returncode == 2 and "--trust-model" in refused.stderr and "Traceback" not in refused.stderr
    trusted = run("predict", image, "--model", tmp_path / "exported", "--trust-model", "--json")
    assert trusted.returncode == 0, trusted.stderr
    predictions = json.loads(trusted.stdout)[0]["predictions"]
    assert {p["name"] for p in predictions} == {"bright region", "dark region"}
