"""Ctrl+C and SIGTERM mid-write and mid-download, closed or full standard output, and a
trusted model with its own custom layer: the command line as a user meets them.

Real subprocesses, unlike most command-line tests (tests/cli_runner.py): signals and a closed
pipe need a process of their own, and ``--custom-objects`` registers its layer with Keras for
the rest of the process, so a refusal of that layer is only honest in a fresh one.
"""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}


def start(*args, cwd, env=None, stdout=subprocess.PIPE):
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), *map(str, args)], cwd=cwd,
                            stdout=stdout, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def wait_for(condition, process, limit_s=240):
    """Until ``condition()`` holds (or the process ends first, which fails the test)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "condition never met"
        try:
            process.wait(timeout=0.02)  # wakes at once if the process ends
        except subprocess.TimeoutExpired:
            pass


def part_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".part")]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from known_models import build_region_model, region_image

    ws = tmp_path_factory.mktemp("interrupts")
    build_region_model().save(ws / "region.keras")
    (ws / "labels.txt").write_text("bright region\ndark region\n")
    for i in range(40):  # enough work that a signal lands while sets are being written
        Image.fromarray(np.roll(region_image(), i, axis=1)).save(ws / f"img{i:02d}.png")
    return ws


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_write_leaves_only_complete_sets(workspace, tmp_path, signum):
    out = tmp_path / "out"
    images = sorted(workspace.glob("img*.png"))
    process = start("explain", *images, "--model", "region.keras", "--labels", "labels.txt", "--classes", "2",
                    "--method", "lime", "--samples", "30", "--out", out, cwd=workspace)
    wait_for(lambda: (out / "img00.lime.json").exists(), process)  # writing has begun
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == STATUS[signum], stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and ("SIGTERM" if signum == signal.SIGTERM else "Ctrl+C") in lines[0], stderr
    assert part_files(out) == [] and not any(p.name.startswith(".") for p in out.iterdir())
    stems = {p.name.split(".")[0] for p in out.iterdir()}
    assert "img00" in stems and len(stems) < len(images)  # stopped part way
    for stem in stems:  # each set complete: JSON, NPZ and both class PNGs
        assert sorted(p.name for p in out.glob(f"{stem}.*")) == [
            f"{stem}.lime.0-bright_region.png", f"{stem}.lime.1-dark_region.png", f"{stem}.lime.json", f"{stem}.lime.npz"]


class SlowWeights(http.server.BaseHTTPRequestHandler):
    """Sends the first megabyte of a 4 MB file, then waits until the test lets it go."""

    released = threading.Event()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(4 << 20))
        self.end_headers()
        self.wfile.write(b"\0" * (1 << 20))
        self.wfile.flush()
        self.released.wait(120)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_download_removes_the_part_file(tmp_path, signum):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowWeights)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    SlowWeights.released.clear()
    Image.new("RGB", (32, 32)).save(tmp_path / "x.png")
    cache = tmp_path / "keras" / "models"
    env = {"KERAS_HOME": str(tmp_path / "keras"),
           "IMAGE_EXPLAINER_WEIGHTS_URL": f"http://127.0.0.1:{server.server_address[1]}/weights.h5"}
    try:
        process = start("predict", tmp_path / "x.png", cwd=tmp_path, env=env)
        wait_for(lambda: any(p.stat().st_size >= 1 << 20 for p in part_files(tmp_path)), process)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        SlowWeights.released.set()
        server.shutdown()
        server.server_close()
    assert process.returncode == STATUS[signum], stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert ("SIGTERM" if signum == signal.SIGTERM else "Ctrl+C") in last, stderr
    assert part_files(tmp_path) == [] and list(cache.iterdir()) == []


def test_closed_pipe_on_stdout_is_one_line(workspace):
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -1` that has already exited
    try:
        process = start("predict", workspace / "img00.png", "--model", "region.keras", "--labels", "labels.txt",
                        cwd=workspace, stdout=write_end)
    finally:
        os.close(write_end)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 2 and "Traceback" not in stderr and "Exception ignored" not in stderr
    assert stderr.strip().splitlines() == ["error: standard output: cannot write (the reading end of the pipe "
                                           "closed)"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_full_stdout_is_one_clear_error(monkeypatch):
    """In-process (the closed-pipe test above runs the whole command): a write to a full
    device is a StdoutError naming the reason, and stdout is parked so exit stays quiet."""
    from engine.cli import StdoutError, say

    with open("/dev/full", "w") as full:
        monkeypatch.setattr(sys, "stdout", full)
        with pytest.raises(StdoutError) as raised:
            say("top class: cat")
        assert str(raised.value) == "standard output: cannot write (No space left on device)"
        full.write("x")
        full.flush()  # now /dev/null underneath: nothing left to fail at interpreter exit


def test_a_trusted_model_with_a_custom_layer_opens_with_its_python_file(tmp_path):
    import json

    from known_models import custom_layer_image, save_custom_layer_model

    save_custom_layer_model(tmp_path)
    Image.fromarray(custom_layer_image()).save(tmp_path / "x.png")
    refused = subprocess.run([sys.executable, str(ROOT / "main.py"), "predict", "x.png", "--model",
                              "custom.keras", "--trust-model"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "error: custom.keras: the model uses a custom object 'Scale' this app does not know; if you trust "
        "the model, give the Python file that defines it (--custom-objects FILE.py --trust-model)"]
    opened = subprocess.run([sys.executable, str(ROOT / "main.py"), "predict", "x.png", "--model", "custom.keras",
                             "--trust-model", "--custom-objects", "layers.py", "--json", "--top", "2"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert opened.returncode == 0, opened.stderr
    predictions = {p["index"]: p["probability"] for p in json.loads(opened.stdout)[0]["predictions"]}
    expected = np.load(tmp_path / "expected.npy")  # Keras's own forward pass on the same pixels
    assert [predictions[0], predictions[1]] == pytest.approx(expected.tolist(), abs=1e-5)
