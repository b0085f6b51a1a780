"""A hostile but fair user's inputs, run through the command line (in this process:
tests/cli_runner.py).

Every case: the promised exit status, exactly one ``error:`` line on stderr that names the
file or option, no traceback, and no file outside the run's own outputs changed. Most cases
fail before any model loads (fast); those that need a model are grouped so it loads a few
times only.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_main as run
from cli_runner import run_process
from PIL import Image


def snapshot(folder: Path) -> dict:
    """Every entry below ``folder``: regular files by size, mtime and content hash."""
    found = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        if stat.S_ISREG(info.st_mode):
            found[path.relative_to(folder).as_posix()] = (info.st_size, info.st_mtime_ns,
                                                          hashlib.sha1(path.read_bytes()).hexdigest())
        else:
            found[path.relative_to(folder).as_posix()] = stat.S_IFMT(info.st_mode)
    return found


def png_header_only(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk claiming ``width`` × ``height``, and no pixel data."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey: the least memory
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def assert_one_clear_line(result, status: int, *names: str) -> str:
    lines = error_lines(result)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == status, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    import keras
    from known_models import build_region_model, region_image

    ws = tmp_path_factory.mktemp("corpus")
    model = build_region_model()
    model.save(ws / "region.keras")
    model.save(ws / "region.h5")
    (ws / "labels.txt").write_text("bright region\ndark region\n")
    Image.fromarray(region_image()).save(ws / "good.png")
    # Model files that are not what their names say.
    (ws / "hdf5_named.keras").write_bytes((ws / "region.h5").read_bytes())
    (ws / "junk.keras").write_bytes(b"this is not a model\n")
    with zipfile.ZipFile(ws / "no_config.keras", "w") as archive:
        archive.writestr("metadata.json", "{}")
    with zipfile.ZipFile(ws / "bad_config.keras", "w") as archive:
        archive.writestr("config.json", "not json")
    (ws / "model.pt").write_bytes(b"\x08\x07")
    # Labels that would mislabel results.
    (ws / "blank_line.txt").write_text("bright region\n\ndark region\n")
    (ws / "duplicate.txt").write_text("cat\ncat\n")
    (ws / "leading_zero.json").write_text(json.dumps({"0": "a", "01": "b"}))
    (ws / "boolean.json").write_text(json.dumps(["a", True]))
    (ws / "gap.json").write_text(json.dumps({"0": "a", "2": "b"}))
    (ws / "three.txt").write_text("a\nb\nc\n")
    # Images that are not images.
    (ws / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    (ws / "text.jpg").write_text("hello")
    (ws / "empty.png").write_bytes(b"")
    (ws / "folder.png").mkdir()
    # 95 megapixels by its header: under our limit, over Pillow's warning threshold.
    (ws / "bomb.png").write_bytes(png_header_only(10_000, 9_500))
    # Special files: each would hang or never end if opened.
    os.mkfifo(ws / "fifo.png")
    os.mkfifo(ws / "fifo.keras")
    os.mkfifo(ws / "fifo.txt")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(ws / "socket.png"))
    # Outputs the user already has.
    (ws / "mine").mkdir()
    (ws / "mine" / "good.lime.json").write_text("my own notes")
    (ws / "mine" / "good.lime.0.png").write_text("my own picture")
    (ws / "mine_eval").mkdir()
    (ws / "mine_eval" / "metrics.json").write_text("my metrics")
    (ws / "mine_grid").mkdir()
    (ws / "mine_grid" / "grid.json").write_text("my grid")
    (ws / "a_file").write_text("not a folder")
    (ws / "classes").mkdir()
    # Models that cannot be explained as they are.
    nan_in = keras.Input((64, 64, 3))
    dense = keras.layers.Dense(2, activation="softmax")
    nan_model = keras.Model(nan_in, dense(keras.layers.Flatten()(nan_in)))
    weights = dense.get_weights()
    weights[0][:] = np.nan
    dense.set_weights(weights)
    nan_model.save(ws / "nan.keras")
    first_in = keras.Input((3, 32, 32))
    keras.Model(first_in, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(first_in))).save(
        ws / "channels_first.keras")
    yield ws
    listener.close()


M = ["--model", "region.keras", "--labels", "labels.txt"]

# (case, argv, exit status, words the one line must hold). None of these loads a model.
BEFORE_ANY_MODEL = [
    ("seed negative", ["explain", "good.png", *M, "--seed", "-1"], 2, ["--seed", "0 to 4294967295"]),
    ("seed too large", ["explain", "good.png", *M, "--seed", str(2**32)], 2, ["--seed"]),
    ("seed not a number", ["explain", "good.png", *M, "--seed", "x"], 2, ["--seed"]),
    ("kernel width nan", ["explain", "good.png", *M, "--method", "lime", "--kernel-width", "nan"], 2,
     ["--kernel-width", "finite"]),
    ("kernel width inf", ["explain", "good.png", *M, "--kernel-width", "inf"], 2, ["--kernel-width"]),
    ("kernel width zero", ["explain", "good.png", *M, "--kernel-width", "0"], 2, ["--kernel-width"]),
    ("hide colour nan", ["explain", "good.png", *M, "--hide-color", "nan"], 2, ["--hide-color", "finite"]),
    ("hide colour word", ["explain", "good.png", *M, "--hide-color", "red"], 2, ["--hide-color"]),
    ("blur kernel zero", ["explain", "good.png", *M, "--masker", "blur(0,0)"], 2, ["--masker", "blur(0,0)"]),
    ("blur kernel huge", ["explain", "good.png", *M, "--masker", "blur(999999,999999)"], 2,
     ["--masker", "1 to 1024"]),
    ("seg param nan", ["explain", "good.png", *M, "--method", "lime", "--seg-param", "ratio=nan"], 2,
     ["--seg-param ratio", "finite"]),
    ("top zero", ["predict", "good.png", *M, "--top", "0"], 2, ["--top"]),
    ("max evals too few", ["explain", "good.png", *M, "--max-evals", "5"], 2, ["--max-evals", "at least 10"]),
    ("labels a device", ["predict", "good.png", "--model", "region.keras", "--labels", "/dev/null"], 2,
     ["null", "character device"]),
    ("custom objects not python", ["predict", "good.png", "--model", "region.keras", "--trust-model",
                                   "--custom-objects", "labels.txt"], 2, ["labels.txt", "Python file"]),
    ("unknown option", ["predict", "good.png", *M, "--colour"], 2, ["--colour"]),
    ("custom objects untrusted", ["predict", "good.png", *M, "--custom-objects", "layers.py"], 2,
     ["--custom-objects", "--trust-model"]),
    ("model missing", ["predict", "good.png", "--model", "nowhere.keras"], 2, ["nowhere.keras", "not found"]),
    ("model is a fifo", ["predict", "good.png", "--model", "fifo.keras"], 2, ["fifo.keras", "named pipe"]),
    ("model is a device", ["predict", "good.png", "--model", "/dev/zero"], 2, ["zero", "character device"]),
    ("hdf5 named .keras", ["predict", "good.png", "--model", "hdf5_named.keras"], 2,
     ["hdf5_named.keras", "HDF5", "rename it to hdf5_named.h5"]),
    ("junk .keras", ["predict", "good.png", "--model", "junk.keras"], 2, ["junk.keras", "not a Keras model"]),
    ("zip without config", ["predict", "good.png", "--model", "no_config.keras"], 2,
     ["no_config.keras", "no config.json"]),
    ("zip with bad config", ["predict", "good.png", "--model", "bad_config.keras"], 2,
     ["bad_config.keras", "damaged"]),
    ("not a model suffix", ["predict", "good.png", "--model", "model.pt"], 2, ["model.pt", "not a model file"]),
    ("labels blank line", ["predict", "good.png", "--model", "region.keras", "--labels", "blank_line.txt"], 2,
     ["blank_line.txt", "line 2 is blank"]),
    ("labels duplicate", ["predict", "good.png", "--model", "region.keras", "--labels", "duplicate.txt"], 2,
     ["duplicate.txt", "duplicate label 'cat'"]),
    ("labels key 01", ["predict", "good.png", "--model", "region.keras", "--labels", "leading_zero.json"], 2,
     ["leading_zero.json", "'01'"]),
    ("labels value true", ["predict", "good.png", "--model", "region.keras", "--labels", "boolean.json"], 2,
     ["boolean.json", "label 1 is true"]),
    ("labels gap", ["predict", "good.png", "--model", "region.keras", "--labels", "gap.json"], 2,
     ["gap.json", "without gaps"]),
    ("labels fifo", ["predict", "good.png", "--model", "region.keras", "--labels", "fifo.txt"], 2,
     ["fifo.txt", "named pipe"]),
    ("labels missing", ["predict", "good.png", "--model", "region.keras", "--labels", "none.txt"], 2,
     ["none.txt", "not found"]),
    ("image fifo only", ["predict", "fifo.png", *M], 1, ["fifo.png", "named pipe"]),
    ("image socket only", ["predict", "socket.png", *M], 1, ["socket.png", "socket"]),
    ("image device only", ["predict", "/dev/zero", *M], 1, ["zero", "character device"]),
    ("image missing only", ["predict", "nowhere.png", *M], 1, ["nowhere.png", "not found"]),
    ("image is a folder", ["predict", "folder.png", *M], 1, ["folder.png", "folder"]),
    ("explain over the user's file", ["explain", "good.png", *M, "--method", "lime", "--out", "mine"], 2,
     ["mine/good.lime.json", "exists", "--overwrite"]),
    ("evaluate over the user's file", ["evaluate", "classes", *M, "--out", "mine_eval"], 2,
     ["metrics.json", "exists", "--overwrite"]),
    ("grid over the user's file", ["explain", "good.png", *M, "--method", "lime", "--grid", "--out",
                                   "mine_grid"], 2, ["grid.json", "exists"]),
    ("out is a file", ["explain", "good.png", *M, "--out", "a_file"], 2, ["--out", "a_file", "not a folder"]),
    ("out cannot be created", ["explain", "good.png", *M, "--out", "/proc/no/such/out"], 2,
     ["--out", "/proc/no/such/out", "cannot create"]),
    ("evaluate a file", ["evaluate", "good.png", *M], 2, ["good.png", "not a folder"]),
    ("evaluate a missing folder", ["evaluate", "nowhere", *M], 2, ["nowhere", "folder not found"]),
    ("weights file is a fifo", ["predict", "good.png", "--weights", "fifo.keras"], 2, ["fifo.keras", "named pipe"]),
]


@pytest.mark.parametrize("argv, status, words", [c[1:] for c in BEFORE_ANY_MODEL],
                         ids=[c[0] for c in BEFORE_ANY_MODEL])
def test_refused_at_once_with_one_line(corpus, argv, status, words):
    before = snapshot(corpus)
    result = run(*argv, cwd=corpus, timeout=60)
    assert_one_clear_line(result, status, *words)
    assert result.stdout == ""
    assert snapshot(corpus) == before  # nothing of the user's changed, nothing half-written


def test_bad_images_beside_a_good_one_each_get_one_line(corpus):
    """One model load for many bad images: each is one line, the good one still runs."""
    bad = ["broken.png", "text.jpg", "empty.png", "fifo.png", "socket.png", "/dev/zero", "folder.png",
           "nowhere.png", "bomb.png"]
    before = snapshot(corpus)
    # A real process: Pillow's size warning for bomb.png is silenced by a filter engine.images
    # sets when first imported, and pytest drops filters set during a test once it ends.
    result = run_process("predict", *bad, "good.png", *M, "--json", cwd=corpus)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = error_lines(result)
    assert len(lines) == len(bad), result.stderr
    assert all(line.startswith("error: ") for line in lines)
    for name in ["broken.png", "text.jpg", "empty.png", "fifo.png", "socket.png", "zero", "folder.png",
                 "nowhere.png", "bomb.png"]:
        assert sum(name in line for line in lines) == 1, (name, lines)
    assert [entry["image"] for entry in json.loads(result.stdout)] == ["good.png"]
    assert snapshot(corpus) == before


def test_non_finite_model_outputs_are_refused_naming_the_model(corpus):
    result = run("predict", "good.png", "--model", "nan.keras", "--json", cwd=corpus)
    assert_one_clear_line(result, 2, "nan.keras", "not finite")
    assert result.stdout == ""  # no "nan%" and no bare NaN in JSON


def test_channels_first_model_suggests_channels_last_or_onnx(corpus):
    result = run("predict", "good.png", "--model", "channels_first.keras", cwd=corpus)
    assert_one_clear_line(result, 2, "channels_first.keras", "channels-first", "NHWC", "ONNX")


def test_blur_kernel_larger_than_the_model_input_is_refused_before_explaining(corpus):
    result = run("explain", "good.png", *M, "--classes", "2", "--masker", "blur(65,3)", cwd=corpus)
    assert_one_clear_line(result, 2, "--masker", "larger than", "64×64")


def test_a_method_that_cannot_run_is_skipped_and_the_rest_goes_on(corpus, tmp_path):
    """Grad-CAM needs a convolution the region model lacks: said once, LIME still runs for both."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "good.png").write_bytes((corpus / "good.png").read_bytes())
    out = tmp_path / "out"
    result = run("explain", tmp_path / "a" / "good.png", tmp_path / "b" / "good.png", "--model",
                 corpus / "region.keras", "--labels", corpus / "labels.txt", "--classes", "2",
                 "--method", "gradcam,lime", "--samples", "40", "--out", out, "--json", cwd=tmp_path)
    assert_one_clear_line(result, 1, "gradcam skipped", "convolutional")
    summaries = json.loads(result.stdout)
    assert [(s["method"], s["image"]) for s in summaries] == [
        ("lime", str(tmp_path / "a" / "good.png")), ("lime", str(tmp_path / "b" / "good.png"))]
    # Same stem, two inputs: two complete sets with distinct names, each saying its input.
    names = sorted(p.name for p in out.iterdir())
    assert names == ["a-good.lime.0-bright_region.png", "a-good.lime.1-dark_region.png",
                     "a-good.lime.json", "a-good.lime.npz",
                     "b-good.lime.0-bright_region.png", "b-good.lime.1-dark_region.png", "b-good.lime.json", "b-good.lime.npz"]
    for prefix in ("a", "b"):
        written = json.loads((out / f"{prefix}-good.lime.json").read_text())
        assert written["image"] == str(tmp_path / prefix / "good.png")
        assert written["output_name"] == f"{prefix}-good"
