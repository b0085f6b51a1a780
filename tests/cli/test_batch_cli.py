"""``batch`` as a user runs it: killed with SIGKILL mid-run, run again, the report in a browser.

Real subprocesses, unlike most command-line tests (tests/cli_runner.py): a process must die
mid-run and a new one resume from what it left; this is also ``batch``'s one end-to-end run
of ``python main.py``.
"""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
IMAGES = 8


def command(folder, out, *extra):
    return [sys.executable, str(ROOT / "main.py"), "batch", str(folder), "--out", str(out),
            "--model", str(folder.parent / "conv.keras"), "--method", "gradcam,lime", "--samples", "200",
            "--lime-batch-size", "100", "--classes", "1", "--metrics", "--metric-steps", "4", *extra]


def done_images(out) -> list[str]:
    if not (out / "index.sqlite").exists():
        return []
    db = sqlite3.connect(out / "index.sqlite", timeout=5)
    try:
        return [r[0] for r in db.execute("SELECT relpath FROM images WHERE status='done'")]
    except sqlite3.OperationalError:  # the table is being created
        return []
    finally:
        db.close()


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """A run killed with SIGKILL after two images, then the same command again, then once more."""
    from known_models import save_conv_model

    base = tmp_path_factory.mktemp("batch")
    save_conv_model(base)
    folder = base / "photos"
    rng = np.random.default_rng(0)
    for i in range(IMAGES):
        label = ("left", "right")[i % 2]
        (folder / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(folder / label / f"{i}.png")
    out = base / "out"
    process = subprocess.Popen(command(folder, out), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while len(done_images(out)) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = sorted(done_images(out))
    stamps = {p: (out / "results" / f"{p}.lime.npz").stat().st_mtime_ns for p in before}
    resumed = subprocess.run(command(folder, out), cwd=ROOT, capture_output=True, text=True, timeout=300)
    started = time.monotonic()
    again = subprocess.run(command(folder, out), cwd=ROOT, capture_output=True, text=True, timeout=300)
    return {"out": out, "before": before, "stamps": stamps, "resumed": resumed, "again": again,
            "again_s": time.monotonic() - started}


def test_a_killed_run_resumes_and_each_image_is_done_once(killed_and_resumed):
    run = killed_and_resumed
    out, before = run["out"], run["before"]
    assert 2 <= len(before) < IMAGES, "the run was not killed mid-way"
    assert run["resumed"].returncode == 0, run["resumed"].stderr
    assert f"{IMAGES - len(before)} of {IMAGES} images to explain ({len(before)} done earlier)" in run["resumed"].stdout
    db = sqlite3.connect(out / "index.sqlite")
    pairs = db.execute("SELECT relpath, method, status FROM results").fetchall()
    db.close()
    assert sorted(pairs) == sorted((f"{('left', 'right')[i % 2]}/{i}.png", m, "done")
                                   for i in range(IMAGES) for m in ("gradcam", "lime"))
    # The images finished before the kill were not computed again.
    assert run["stamps"] == {p: (out / "results" / f"{p}.lime.npz").stat().st_mtime_ns for p in before}


def test_a_finished_run_says_nothing_to_do(killed_and_resumed):
    again = killed_and_resumed["again"]
    assert again.returncode == 0, again.stderr
    assert f"nothing to do: all {IMAGES} images are done" in again.stdout


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium package for the browser check")
def test_the_report_opens_in_a_browser(killed_and_resumed, tmp_path):
    report = killed_and_resumed["out"] / "report.html"
    shot = tmp_path / "report.png"
    browser = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"]
    subprocess.run([*browser, f"--screenshot={shot}", report.as_uri()], capture_output=True, timeout=120, check=True)
    dom = subprocess.run([*browser, "--dump-dom", report.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert dom.count("<tr") == IMAGES + 1  # header + one row per image
    assert dom.count("data:image/jpeg;base64,") == IMAGES * 3  # the image and two maps each
    pixels = np.asarray(Image.open(shot).convert("RGB"), np.float32)
    assert pixels.shape[:2] == (900, 1280) and pixels.std() > 10  # something was drawn
    if os.environ.get("REPORT_SCREENSHOT"):
        shutil.copy(shot, os.environ["REPORT_SCREENSHOT"])
