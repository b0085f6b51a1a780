"""Batch runs: outputs checked against direct explanations, resume after a stop, refusals."""

import csv
import json
import sqlite3

import numpy as np
import pytest
from PIL import Image

from engine.batch import BatchRefused, BatchRun, run_batch, walk_images
from engine.batch_worker import BatchSettings, ImageWorker
from engine.explain.integrated_gradients import IntegratedGradientsParams
from engine.images import fit_to_model, load_image
from engine.models import ModelSpec

IG = IntegratedGradientsParams(steps=4)
PROCESS = ImageWorker.process


@pytest.fixture(scope="module")
def conv_model(tmp_path_factory):
    from known_models import save_conv_model

    from engine.models import load_classifier

    folder = tmp_path_factory.mktemp("conv")
    path = save_conv_model(folder)
    return path, load_classifier(ModelSpec(model=str(path)))


def labelled_folder(root, per_class=3, broken=True):
    rng = np.random.default_rng(1)
    for label in ("left", "right"):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(root / label / f"{i}.png")
    if broken:
        (root / "right" / "broken.jpg").write_bytes(b"not an image")
    (root / ".hidden").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / ".hidden" / "x.png")
    return root


def settings(path, methods=("gradcam", "ig"), scoring=False, **extra):
    return BatchSettings(model=ModelSpec(model=str(path)), methods=methods, params={"ig": IG},
                         classes=1, scoring=scoring, scoring_steps=3, **extra)


def rows(out):
    db = sqlite3.connect(out / "index.sqlite")
    try:
        return db.execute("SELECT relpath, method, status, error FROM results ORDER BY relpath, method").fetchall()
    finally:
        db.close()


def test_the_walk_keeps_relative_paths_and_skips_hidden_files_and_the_output(tmp_path):
    root = labelled_folder(tmp_path / "data")
    (root / "right" / "notes.txt").write_text("x")
    out = root / "out"
    out.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(out / "y.png")
    assert list(walk_images(root, skip=out)) == ["left/0.png", "left/1.png", "left/2.png", "right/0.png",
                                                 "right/1.png", "right/2.png", "right/broken.jpg"]


def test_a_batch_writes_what_a_direct_explanation_gives(tmp_path, conv_model, capsys):
    from engine import explain

    path, classifier = conv_model
    root = labelled_folder(tmp_path / "data")
    out = tmp_path / "out"
    status = run_batch(BatchRun(root, out, settings(path, scoring=True)), lambda: classifier)
    assert status == 1  # the broken file
    assert "error: right/broken.jpg: not an image" in capsys.readouterr().err
    recorded = rows(out)
    assert len(recorded) == 6 * 2 and all(r[2] == "done" for r in recorded)
    image = fit_to_model(load_image(root / "left" / "1.png"), classifier.input_size)
    top = int(np.argmax(classifier.predict(image[None])[0]))
    for method, params in (("gradcam", None), ("ig", IG)):
        direct = explain.run(method, image, classifier, [top], params)
        with np.load(out / "results" / "left" / f"1.png.{method}.npz") as stored:
            np.testing.assert_allclose(stored["maps"], direct.maps, rtol=1e-5, atol=1e-7)
    info = json.loads((out / "results" / "left" / "1.png.gradcam.json").read_text())
    assert info["classes"] == [top] and "metrics" in info
    with open(out / "summary.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 6 * 2 + 1
    predicted = {}
    for label in ("left", "right"):
        for i in range(3):
            x = fit_to_model(load_image(root / label / f"{i}.png"), classifier.input_size)
            predicted[f"{label}/{i}.png"] = classifier.class_names[int(np.argmax(classifier.predict(x[None])[0]))]
    for row in table:
        if row["status"] == "done":
            assert row["predicted_class"] == predicted[row["image"]]
            assert row["correct"] == ("yes" if predicted[row["image"]] == row["true_class"] else "no")
            scores = json.loads((out / row["json"]).read_text())["metrics"]
            assert float(row["faithfulness"]) == pytest.approx(
                scores["lerf_auc"][0] - scores["morf_auc"][0], rel=1e-5, abs=1e-9)
            assert row["better_than_random"] == ("yes" if scores["better_than_random"][0] else "no")
    failed = [r for r in table if r["status"] == "failed"]
    assert [r["image"] for r in failed] == ["right/broken.jpg"]
    page = (out / "report.html").read_text()
    assert page.count("misclassified</td>") == sum(
        1 for k, v in predicted.items() if v != k.split("/")[0])
    assert "http://" not in page and "https://" not in page and "right/broken.jpg" in page


class StopAfter:
    """An ImageWorker whose run is stopped (Ctrl-C) after ``n`` images; counts what it did."""

    done: list = []

    def __init__(self, n):
        self.n = n

    def install(self, monkeypatch):
        original = PROCESS
        counter = self

        def process(worker, relpath, image=None, error=""):
            if len(counter.done) >= counter.n:
                raise KeyboardInterrupt
            counter.done.append(relpath)
            return original(worker, relpath, image, error)

        monkeypatch.setattr(ImageWorker, "process", process)


def test_a_stopped_run_resumes_with_each_image_done_once(tmp_path, conv_model, monkeypatch, capsys):
    path, classifier = conv_model
    root = labelled_folder(tmp_path / "data", per_class=3, broken=False)
    out = tmp_path / "out"
    first = StopAfter(2)
    first.done = []
    first.install(monkeypatch)
    assert run_batch(BatchRun(root, out, settings(path)), lambda: classifier) == 130
    assert "run the same command again" in capsys.readouterr().err
    assert {r[0] for r in rows(out)} == set(first.done)
    earlier = {p: (out / "results" / f"{p}.gradcam.npz").stat().st_mtime_ns for p in first.done}
    second = StopAfter(100)
    second.done = []
    second.install(monkeypatch)
    assert run_batch(BatchRun(root, out, settings(path)), lambda: classifier) == 0
    assert not set(first.done) & set(second.done)
    assert len(first.done) + len(second.done) == 6
    assert len(rows(out)) == 6 * 2 and len({(r[0], r[1]) for r in rows(out)}) == 12
    assert earlier == {p: (out / "results" / f"{p}.gradcam.npz").stat().st_mtime_ns for p in first.done}


def test_a_finished_run_has_nothing_to_do_without_loading_the_model(tmp_path, conv_model, capsys):
    path, classifier = conv_model
    root = labelled_folder(tmp_path / "data", per_class=1, broken=False)
    out = tmp_path / "out"
    assert run_batch(BatchRun(root, out, settings(path)), lambda: classifier) == 0

    def no_model():
        raise AssertionError("the model was loaded")

    capsys.readouterr()
    assert run_batch(BatchRun(root, out, settings(path)), no_model) == 0
    assert "nothing to do: all 2 images are done" in capsys.readouterr().out


def test_other_settings_are_refused_and_restart_replaces_them(tmp_path, conv_model):
    path, classifier = conv_model
    root = labelled_folder(tmp_path / "data", per_class=1, broken=False)
    out = tmp_path / "out"
    assert run_batch(BatchRun(root, out, settings(path)), lambda: classifier) == 0
    other = settings(path, methods=("gradcam",))
    with pytest.raises(BatchRefused, match="another model or other settings"):
        run_batch(BatchRun(root, out, other), lambda: classifier)
    assert len(rows(out)) == 4  # untouched
    assert run_batch(BatchRun(root, out, other, restart=True), lambda: classifier) == 0
    assert [r[1] for r in rows(out)] == ["gradcam", "gradcam"]
    assert not list((out / "results").rglob("*.ig.*"))


def test_a_folder_that_is_not_a_batch_run_is_not_written_into(tmp_path, conv_model):
    path, classifier = conv_model
    root = labelled_folder(tmp_path / "data", per_class=1, broken=False)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "summary.csv").write_text("my own file")
    with pytest.raises(BatchRefused, match="not empty"):
        run_batch(BatchRun(root, out, settings(path)), lambda: classifier)
    assert (out / "summary.csv").read_text() == "my own file"


def test_the_command_line_refuses_other_settings_in_one_line(tmp_path, conv_model, capsys):
    from engine.cli import main

    path, _ = conv_model
    root = labelled_folder(tmp_path / "data", per_class=1, broken=False)
    out = tmp_path / "out"
    args = ["batch", str(root), "--out", str(out), "--model", str(path), "--method", "gradcam", "--classes", "1"]
    assert main(args) == 0
    capsys.readouterr()
    assert main([*args, "--seed", "5"]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {out} holds results of another model or other settings; use --restart to "
                   "replace them, or choose another --out\n")
    assert main([*args[:-2], "--classes", "9"]) == 2
    assert capsys.readouterr().err.startswith("error: --classes 9: the model has only 2 classes")


def test_the_true_class_comes_from_the_nearest_folder_named_like_a_class(conv_model, tmp_path):
    path, classifier = conv_model
    worker = ImageWorker(settings(path), tmp_path, tmp_path / "out", classifier=classifier)
    assert worker.true_name("left/2024/x.png") == "left"
    assert worker.true_name("Right/x.png") == "right"
    assert worker.true_name("right/left/x.png") == "left"
    assert worker.true_name("x.png") is None and worker.true_name("other/x.png") is None


def test_without_ray_installed_the_ray_option_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    from engine.cli import main

    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # import ray now fails
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "out"), "--ray", "auto"]) == 2
    assert capsys.readouterr().err == "error: --ray needs Ray: pip install -r requirements-ray.txt (ray 2.60.0)\n"


def test_images_removed_from_the_folder_leave_the_report_but_keep_their_files(tmp_path, conv_model, capsys):
    path, classifier = conv_model
    root = labelled_folder(tmp_path / "data", per_class=2, broken=True)
    out = tmp_path / "out"
    assert run_batch(BatchRun(root, out, settings(path, methods=("gradcam",))), lambda: classifier) == 1
    kept = out / "results" / "left" / "0.png.gradcam.npz"
    assert kept.exists()
    (root / "left" / "0.png").rename(tmp_path / "0.png")
    (root / "right" / "broken.jpg").unlink()
    Image.fromarray(np.full((40, 48, 3), 90, np.uint8)).save(root / "left" / "new.png")
    capsys.readouterr()

    def present(expected_images):
        with open(out / "summary.csv", newline="") as f:
            assert sorted({r["image"] for r in csv.DictReader(f)}) == expected_images
        page = (out / "report.html").read_text()
        for name in ("left/0.png", "right/broken.jpg", "left/1.png", "left/new.png", "right/0.png"):
            if name in expected_images:
                assert f">{name}</td>" in page, name
            else:  # neither a row nor a failure
                assert name not in page, name
        return page

    assert run_batch(BatchRun(root, out, settings(path, methods=("gradcam",))), lambda: classifier) == 0
    said = capsys.readouterr().out
    assert "1 of 4 images to explain (3 done earlier)" in said
    assert (f"2 images no longer in {root} were left out of the report; their files stay in {out}\n"
            in said)
    assert "4 images done, 0 failed" in said
    page = present(["left/1.png", "left/new.png", "right/0.png", "right/1.png"])
    assert "4 images explained, 0 failed · 2 images of earlier runs no longer in the folder" in page
    assert "<h2>Failures (0)</h2>" in page
    assert kept.exists() and {"left/0.png", "right/broken.jpg"} <= {r[0] for r in _images(out)}

    # Nothing to explain: the line again; one image put back is in the report again, unexplained anew.
    (tmp_path / "0.png").rename(root / "left" / "0.png")
    assert run_batch(BatchRun(root, out, settings(path, methods=("gradcam",))), lambda: classifier) == 0
    said = capsys.readouterr().out
    assert (f"1 image no longer in {root} was left out of the report; its files stay in {out}\n" in said
            and "nothing to do: all 5 images are done" in said)
    present(["left/0.png", "left/1.png", "left/new.png", "right/0.png", "right/1.png"])
    assert kept.stat().st_size > 0


def _images(out):
    db = sqlite3.connect(out / "index.sqlite")
    try:
        return db.execute("SELECT relpath, status FROM images").fetchall()
    finally:
        db.close()
