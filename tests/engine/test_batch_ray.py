"""Batch runs on Ray actors: the same maps as in this process, each image once, a killed actor retried."""

import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from engine.batch import BatchRun, run_batch
from engine.batch_worker import BatchSettings
from engine.explain.lime_image import LimeParams
from engine.models import ModelSpec

LIME = LimeParams(num_samples=60, batch_size=30, seed=4)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from known_models import save_conv_model

    base = tmp_path_factory.mktemp("ray")
    model = save_conv_model(base)
    rng = np.random.default_rng(2)
    for i in range(6):
        folder = base / "photos" / ("left", "right")[i % 2]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return base, model


def records(out):
    db = sqlite3.connect(out / "index.sqlite")
    try:
        return db.execute("SELECT relpath, method, status FROM results ORDER BY relpath, method").fetchall()
    finally:
        db.close()


def test_two_actors_give_the_local_maps_and_a_killed_actor_is_retried(photos, ray_runtime, tmp_path):
    from engine.models import load_classifier

    base, model = photos
    settings = BatchSettings(model=ModelSpec(model=str(model)), methods=("gradcam", "lime"),
                             params={"lime": LIME}, classes=1, seed=4)
    local, spread = tmp_path / "local", tmp_path / "ray"
    classifier = load_classifier(settings.model)
    assert run_batch(BatchRun(base / "photos", local, settings), lambda: classifier) == 0
    killed = []

    def kill_one_actor(outcome, actors):
        if not killed:  # after the first image: the first actor dies with work queued on it
            pid = ray_runtime.get(actors[0].pid.remote())
            subprocess.run(["kill", "-9", str(pid)], check=True)
            killed.append(pid)

    run = BatchRun(base / "photos", spread, settings, workers=2, ray="auto", on_outcome=kill_one_actor)
    assert run_batch(run, lambda: classifier) == 0
    assert killed
    assert records(spread) == records(local) and len(records(local)) == 12
    assert all(status == "done" for _, _, status in records(spread))
    for relpath, method, _ in records(local):
        with np.load(local / "results" / f"{relpath}.{method}.npz") as a, \
                np.load(spread / "results" / f"{relpath}.{method}.npz") as b:
            np.testing.assert_array_equal(a["maps"], b["maps"])


def test_the_app_does_not_import_ray_unless_asked():
    code = ("import sys; import engine.cli, engine.batch, engine.batch_worker, engine.pipeline; "
            "engine.cli.build_parser(); print('ray' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr
