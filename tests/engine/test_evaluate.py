"""Evaluating a classifier on a labelled folder: one sub-folder of images per class."""

import numpy as np
import pytest
from known_models import REGION, SIZE, region_image
from PIL import Image

from engine.errors import Cancelled, EngineError
from engine.evaluate import evaluate_folder, normalise_label
from engine.images import fit_to_model, load_image
from engine.jobs import CancelToken


def make_labelled_folder(root, count=7, seed=0):
    """'bright region' and 'dark region' images; the region's brightness is random, so the
    region model gets some of each wrong. Folder names differ in case and spaces/underscores."""
    rng = np.random.default_rng(seed)
    folders = {"Bright_Region": (60, 256), "dark region": (0, 200)}
    for folder, (low, high) in folders.items():
        (root / folder).mkdir(parents=True)
        for i in range(count):
            image = region_image().copy()
            image[REGION] = rng.integers(low, high, 3)
            Image.fromarray(image).save(root / folder / f"{i}.png")
    (root / "dark region" / "nested").mkdir()
    Image.fromarray(np.zeros((SIZE, SIZE, 3), np.uint8)).save(root / "dark region" / "nested" / "black.png")
    (root / "dark region" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    return root


def test_confusion_matrix_is_what_the_predictions_imply(tmp_path, region_classifier):
    folder = make_labelled_folder(tmp_path / "data")
    reports = []
    result = evaluate_folder(folder, region_classifier, batch_size=4,
                             progress=lambda done, total, stage: reports.append((done, total)))

    # Expected, from the classifier directly, image by image.
    expected = np.zeros((2, 2), np.int64)
    wrong = []
    for true_index, sub in ((0, "Bright_Region"), (1, "dark region")):
        for path in sorted((folder / sub).rglob("*.png")):
            if path.name == "broken.png":
                continue
            probabilities = region_classifier.predict(fit_to_model(load_image(path), (SIZE, SIZE)))[0]
            guess = int(probabilities.argmax())
            expected[true_index, guess] += 1
            if guess != true_index:
                wrong.append((str(path), guess, float(probabilities[guess])))
    assert expected[0, 1] + expected[1, 0] > 0 and np.trace(expected) > 0  # a real mix

    assert result.labels == ["bright region", "dark region"]
    assert result.confusion_matrix.dtype.kind == "i"
    np.testing.assert_array_equal(result.confusion_matrix, expected)
    assert result.total == 15 and result.accuracy == pytest.approx(np.trace(expected) / 15)
    for i, label in enumerate(result.labels):
        metrics = result.per_class[label]
        assert metrics["support"] == expected[i].sum()
        assert metrics["recall"] == pytest.approx(expected[i, i] / expected[i].sum())
        assert metrics["precision"] == pytest.approx(expected[i, i] / expected[:, i].sum())
    got = sorted((m["file"], result.labels.index(m["predicted"]), m["probability"]) for m in result.misclassified)
    assert [(f, p) for f, p, _ in got] == [(f, p) for f, p, _ in sorted(wrong)]
    np.testing.assert_allclose([c for _, _, c in got], [c for _, _, c in sorted(wrong)], rtol=1e-5)
    assert all(m["true"] != m["predicted"] for m in result.misclassified)
    assert [s["file"].endswith("broken.png") for s in result.skipped] == [True]
    # The line says which class folder the file is in, not only its name.
    assert result.skipped[0]["error"].startswith("dark region/broken.png: ")
    assert result.folders == {"Bright_Region": "bright region", "dark region": "dark region"}
    assert reports[-1] == (16, 16) and all(b[0] >= a[0] for a, b in zip(reports, reports[1:]))
    json_form = result.to_json()
    assert json_form["confusion_matrix"] == expected.tolist()
    assert set(json_form) >= {"labels", "accuracy", "confusion_matrix", "per_class", "misclassified"}


def test_unknown_sub_folders_are_skipped_with_one_note_and_the_rest_is_evaluated(tmp_path, region_classifier):
    folder = make_labelled_folder(tmp_path / "data", count=2)
    for name in ("brite region", "unsorted", "misc", "old", "z-extra"):
        (folder / name).mkdir()
        Image.fromarray(region_image()).save(folder / name / "a.png")
    result = evaluate_folder(folder, region_classifier)
    assert result.skipped_folders == ["brite region", "misc", "old", "unsorted", "z-extra"]
    assert result.to_json()["skipped_folders"] == result.skipped_folders
    # Only the class folders' images are counted: 2 + 2 + nested black.png (broken.png unreadable).
    assert result.total == 5 and not any("unsorted" in f or "brite" in f for f in result.files)
    notes = [n for n in result.notes if "skipped" in n]
    assert len(notes) == 1 and "\n" not in notes[0]
    assert notes[0].startswith("5 sub-folders match no class label")
    assert "brite region, misc, old, unsorted, … (1 more)" in notes[0] and "bright region, dark region" in notes[0]


def test_a_folder_where_no_sub_folder_matches_is_a_clear_error(tmp_path, region_classifier):
    (tmp_path / "data" / "brite region").mkdir(parents=True)
    Image.fromarray(region_image()).save(tmp_path / "data" / "brite region" / "a.png")
    with pytest.raises(EngineError) as caught:
        evaluate_folder(tmp_path / "data", region_classifier)
    message = str(caught.value)
    assert "brite region" in message and "bright region, dark region" in message and "\n" not in message


def test_folder_problems(tmp_path, region_classifier):
    with pytest.raises(EngineError, match="folder not found"):
        evaluate_folder(tmp_path / "missing", region_classifier)
    (tmp_path / "flat").mkdir()
    Image.fromarray(region_image()).save(tmp_path / "flat" / "x.png")
    with pytest.raises(EngineError, match="no class sub-folders"):
        evaluate_folder(tmp_path / "flat", region_classifier)
    (tmp_path / "flat" / "dark_region").mkdir()
    with pytest.raises(EngineError, match="hold no images"):
        evaluate_folder(tmp_path / "flat", region_classifier)


def test_cancel_between_batches(tmp_path, region_classifier):
    folder = make_labelled_folder(tmp_path / "data")
    token = CancelToken()
    reports = []

    def progress(done, total, stage):
        reports.append(done)
        if done:
            token.cancel()

    with pytest.raises(Cancelled):
        evaluate_folder(folder, region_classifier, batch_size=2, progress=progress, cancel=token)
    assert reports[-1] == 2


def test_label_names_compare_loosely():
    assert normalise_label("Golden_Retriever") == normalise_label("golden retriever")
    assert normalise_label("  Tabby   Cat ") == "tabby cat"
    assert normalise_label("cat") != normalise_label("cats")


def test_confusion_matrix_drawing(tmp_path, region_classifier):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from engine.render import draw_confusion_matrix, new_figure

    result = evaluate_folder(make_labelled_folder(tmp_path / "data"), region_classifier)
    figure = new_figure(5, 4)
    FigureCanvasAgg(figure)
    draw_confusion_matrix(figure, result)
    ax = figure.axes[0]
    matrix = result.confusion_matrix
    counts = sorted(int(t.get_text()) for t in ax.texts)
    assert counts == sorted(matrix.ravel().tolist())
    shown = ax.images[0].get_array()
    np.testing.assert_allclose(shown, matrix / matrix.sum(axis=1, keepdims=True))
    assert [t.get_text() for t in ax.get_yticklabels()] == result.labels
    assert [t.get_text() for t in ax.get_xticklabels()] == result.labels
    assert "accuracy" in ax.get_title()
