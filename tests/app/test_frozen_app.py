"""The built (PyInstaller) app works on its own: self-test, CLI and window, run from dist/.

Marked ``app``: deselected by default, run by ``make test-app``. The app is built once per
session unless dist/ImageExplainer is newer than every source file (``make test-app``
builds it first, so then it is always reused). ``IMAGE_EXPLAINER_APP=/path/to/executable``
tests an app built elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.app

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist" / "ImageExplainer"
EXECUTABLE = DIST / ("ImageExplainer.exe" if sys.platform == "win32" else "ImageExplainer")
SOURCES = ("main.py", "build.spec", "engine", "gui", "resources")
RUN_TIMEOUT = 600


def _newest_source_mtime() -> float:
    newest = 0.0
    for name in SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                newest = max(newest, file.stat().st_mtime)
    return newest


@pytest.fixture(scope="session")
def app() -> Path:
    override = os.environ.get("IMAGE_EXPLAINER_APP")
    if override:
        return Path(override)
    if EXECUTABLE.exists() and EXECUTABLE.stat().st_mtime >= _newest_source_mtime():
        return EXECUTABLE
    build = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(ROOT / "dist"), "--workpath", str(ROOT / "build"), "build.spec"],
        cwd=ROOT, capture_output=True, text=True, timeout=3600,
    )
    assert build.returncode == 0, f"PyInstaller failed:\n{build.stdout[-4000:]}\n{build.stderr[-8000:]}"
    assert EXECUTABLE.exists()
    return EXECUTABLE


def _env(**extra: str) -> dict:
    """The user's environment, without anything that would let the app find the source tree."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "IMAGE_EXPLAINER_WEIGHTS")}
    env.update(extra)
    return env


def _run(app: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(app), *args], cwd=cwd, env=_env(**env), capture_output=True,
                          text=True, timeout=RUN_TIMEOUT)


def _sample(app: Path) -> Path:
    matches = list(app.parent.rglob("resources/samples/chelsea.png"))
    assert matches, "the bundle has no resources/samples/chelsea.png"
    return matches[0]


def test_self_test_passes(app, tmp_path):
    report = tmp_path / "report.txt"
    result = _run(app, "self-test", "--report", str(report), cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "self-test passed" in result.stdout
    assert "(frozen app," in result.stdout, "the self-test did not run inside the frozen app"
    text = report.read_text(encoding="utf-8")
    assert "self-test passed" in text
    for line in ("model: ResNet-50 (untrained", "shap:", "lime:", "render: PNG",
                 "onnx: 8x8 model read by openvino"):
        assert line in text
    # The bundle carries OpenVINO's CPU plugin and frontends, so the fast forward pass runs.
    assert "forward pass: OpenVINO (float32)" in text, text


def test_compiled_kernels_are_kept_in_the_cache_folder(app, tmp_path):
    """Started from a folder with no sources in it, the app still finds its kernels' sources
    in the bundle and keeps them compiled in its cache folder for the next launch."""
    cache = tmp_path / "cache"
    result = _run(app, "self-test", cwd=tmp_path, IMAGE_EXPLAINER_CACHE=str(cache))
    assert result.returncode == 0, result.stdout + result.stderr
    indexes = {path.name.split("-")[0] for path in (cache / "numba").rglob("*.nbi")}
    for kernel in ("telea.hole_of", "shap_compiled.lower_credit", "_image._jit_build_partition_tree"):
        assert kernel in indexes, sorted(indexes)


def test_predict_from_the_command_line(app, tmp_path):
    result = _run(app, "predict", str(_sample(app)), "--weights", "none", "--top", "3", "--json",
                  cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [entry] = json.loads(result.stdout)
    assert len(entry["predictions"]) == 3
    assert all(p["name"] for p in entry["predictions"])  # ImageNet names bundled


def test_explain_writes_png_npz_and_json(app, tmp_path):
    out = tmp_path / "out"
    result = _run(app, "explain", str(_sample(app)), "--weights", "none", "--method", "lime",
                  "--classes", "1", "--samples", "20", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert "chelsea.lime.json" in names and "chelsea.lime.npz" in names, names
    assert any(n.startswith("chelsea.lime.") and n.endswith(".png") for n in names), names


def test_an_onnx_model_predicts_what_numpy_computes(app, tmp_path):
    """The bundle reads ONNX files with OpenVINO's ONNX frontend (onnxruntime is left out)."""
    import numpy as np
    import onnx_models
    from PIL import Image

    model = onnx_models.save(onnx_models.conv_net(size=16), tmp_path / "conv.onnx")
    pixels = np.random.default_rng(3).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    result = _run(app, "predict", str(tmp_path / "photo.png"), "--model", str(model), "--preprocess", "unit",
                  "--top", "5", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    [entry] = json.loads(result.stdout)
    logits = onnx_models.conv_reference(pixels[None], 0.0, 255.0)[0]
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    got = {p["index"]: p["probability"] for p in entry["predictions"]}
    assert sorted(got) == list(range(5))
    np.testing.assert_allclose([got[i] for i in range(5)], expected, atol=1e-5)


def test_bad_input_is_one_clear_line(app, tmp_path):
    result = _run(app, "predict", str(tmp_path / "missing.png"), "--weights", "none", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "missing.png" in result.stderr


def test_window_opens_and_saves_a_screenshot(app, tmp_path):
    shot = tmp_path / "window.png"
    result = _run(app, "gui", "--weights", "none", str(_sample(app)), "--screenshot", str(shot),
                  cwd=tmp_path, QT_QPA_PLATFORM="offscreen")
    assert result.returncode == 0, result.stdout + result.stderr
    assert shot.exists() and shot.stat().st_size > 1000


def test_bundle_has_no_second_qt_binding(app):
    internal = app.parent / "_internal"
    root = internal if internal.is_dir() else app.parent
    for name in ("PyQt5", "PyQt6", "tkinter", "torch", "cv2/qt"):
        assert not (root / name).exists(), f"{name} should not be bundled"
