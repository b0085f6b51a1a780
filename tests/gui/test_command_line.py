"""``python main.py gui … --screenshot FILE`` as a person (or a script) would run it."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def _run(args, tmp_path, timeout=300):
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    # The app's QSettings go to this folder, never to the person's own settings.
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["HOME"] = str(tmp_path / "home")
    (tmp_path / "home").mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "main.py", "gui", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow  # ~30 s, and part of the normal suite (only "app" is deselected by default)
def test_screenshot_of_an_explained_image(tmp_path, image_folder):
    shot = tmp_path / "out.png"
    result = _run([image_folder / "coffee.jpg", "--weights", "none", "--explain", "shap",
                   "--max-evals", "40", "--classes", "1", "--screenshot", shot], tmp_path)
    assert result.returncode == 0, result.stderr
    with Image.open(shot) as picture:
        assert picture.size[0] >= 1200 and picture.size[1] >= 800
        pixels = np.asarray(picture.convert("RGB"))
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert colours > 2000, f"only {colours} colours: the window looks blank"
    # Settings given on the command line are for this run only: nothing was saved.
    saved = list((tmp_path / "config").rglob("*.conf"))
    assert not any("max_evals" in p.read_text() for p in saved)


def test_model_that_cannot_load_exits_non_zero_with_one_line(tmp_path, image_folder):
    shot = tmp_path / "out.png"
    result = _run([image_folder / "noise.png", "--model", tmp_path / "missing.keras",
                   "--screenshot", shot], tmp_path, timeout=120)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: the model could not be loaded: missing.keras: model file not found"]
    assert not shot.exists()


@pytest.mark.slow
def test_unwritable_screenshot_path_exits_non_zero(tmp_path, region_model_file, image_folder):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    shot = blocker / "out.png"
    result = _run([image_folder / "region.png", "--model", region_model_file, "--screenshot", shot],
                  tmp_path, timeout=180)
    assert result.returncode != 0
    assert f"error: cannot save the screenshot to {shot}" in result.stderr


@pytest.mark.parametrize("module", ["gui.app", "gui.main_window"])
def test_window_shows_before_keras_is_imported(tmp_path, module):
    """The window must appear at once: nothing heavy may load with the GUI modules."""
    script = (
        "import sys\n"
        f"import {module}\n"
        "from engine.cli import build_parser\n"
        "from gui.app import application, build_window\n"
        "app = application()\n"
        "window = build_window(build_parser().parse_args(['gui', '--weights', 'none']))\n"
        "window.show()\n"
        "app.processEvents()\n"
        "heavy = sorted(m for m in sys.modules\n"
        "               if m.split('.')[0] in ('keras', 'tensorflow', 'shap', 'lime', 'numba', 'openvino')\n"
        "               or m in ('engine.models', 'engine.backend'))\n"
        "print('HEAVY', heavy)\n"
        "assert window.isVisible()\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout, result.stdout
