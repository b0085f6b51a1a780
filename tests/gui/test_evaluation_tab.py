"""The Evaluation tab: a labelled folder evaluated on the engine thread, with progress and
cancel, its confusion matrix clickable, and the images of a cell explained from there."""

import threading

import numpy as np
import pytest
from gui_helpers import REGION_LABELS, read_json, wait_until_done
from known_models import REGION, build_region_model, region_image
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from engine.images import fit_to_model, load_image
from engine.models import Classifier
from gui.grid_data import build_grid


def make_labelled_folder(root, count=6, seed=3):
    """Region images whose decisive square has a random brightness: the region model gets
    some of each class wrong. One folder name differs from its label in case and '_'."""
    rng = np.random.default_rng(seed)
    for folder, (low, high) in {"Bright_Region": (70, 256), "dark region": (0, 190)}.items():
        (root / folder).mkdir(parents=True)
        for i in range(count):
            image = region_image().copy()
            image[REGION] = rng.integers(low, high, 3)
            Image.fromarray(image).save(root / folder / f"{folder[:4].lower()}{i}.png")
    return root


@pytest.fixture(scope="module")
def labelled_folder(tmp_path_factory):
    return make_labelled_folder(tmp_path_factory.mktemp("labelled") / "data")


_PREDICTED_CELLS: dict[str, dict] = {}


@pytest.fixture
def expected(window, labelled_folder):
    """Per image, the class the region model predicts, worked out here without the window.
    (After ``window``: the engine thread has loaded its model by then; building a second
    Keras model while it loads would race with it.)"""
    if str(labelled_folder) not in _PREDICTED_CELLS:
        _PREDICTED_CELLS[str(labelled_folder)] = predicted_cells(labelled_folder)
    return _PREDICTED_CELLS[str(labelled_folder)]


def predicted_cells(labelled_folder):
    classifier = Classifier(build_region_model(), "region", list(REGION_LABELS), "none")
    cells = {}
    for true_index, sub in ((0, "Bright_Region"), (1, "dark region")):
        for path in sorted((labelled_folder / sub).glob("*.png")):
            probabilities = classifier.predict(fit_to_model(load_image(path), classifier.input_size)[None])[0]
            cells.setdefault((true_index, int(probabilities.argmax())), []).append(str(path))
    return cells


@pytest.fixture(autouse=True)
def back_to_explanations(window):
    """The window is shared by the whole session: leave it on its first tab."""
    yield
    window.central_tabs.show_page("explanations")


def evaluate(window, qtbot, folder, batch_size=32, timeout=60_000):
    with qtbot.waitSignal(window.controller.evaluationFinished, timeout=timeout) as finished:
        job = window.evaluation.evaluate_folder(folder, batch_size=batch_size)
    assert finished.args[0] is job
    return job


def test_the_matrix_shown_is_what_the_predictions_imply(window, qtbot, labelled_folder, expected):
    matrix = np.zeros((2, 2), np.int64)
    for (true_index, predicted), files in expected.items():
        matrix[true_index, predicted] = len(files)
    assert np.trace(matrix) > 0 and matrix[0, 1] + matrix[1, 0] > 0  # a real mix of right and wrong

    progress = []

    def record(job):
        progress.append((job.done, job.total))

    window.controller.evaluationProgress.connect(record)
    try:
        job = evaluate(window, qtbot, labelled_folder, batch_size=2)
    finally:
        window.controller.evaluationProgress.disconnect(record)

    assert job.state == "done"
    assert progress and progress[-1] == (12, 12)
    assert all(0 <= done <= total == 12 for done, total in progress)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    view = window.evaluation.view
    assert window.central_tabs.current_page() == "evaluation"
    np.testing.assert_array_equal(view.result.confusion_matrix, matrix)
    # The canvas draws that matrix: its counts are the texts in the cells.
    axes = view.canvas.figure.axes[0]
    assert np.asarray(axes.images[0].get_array()).shape == (2, 2)
    drawn = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text()) for t in axes.texts}
    assert drawn == {(i, j): int(matrix[i, j]) for i in range(2) for j in range(2)}
    assert f"{np.trace(matrix) / 12:.1%}" in view.summary.text()
    # Per-class precision and recall, as the matrix says.
    table = {view.table.item(r, 0).text(): [view.table.item(r, c).text() for c in (1, 2, 3)]
             for r in range(view.table.rowCount())}
    for i, label in enumerate(REGION_LABELS):
        assert table[label] == [f"{matrix[i, i] / matrix[:, i].sum():.1%}", f"{matrix[i, i] / matrix[i].sum():.1%}",
                                str(matrix[i].sum())]


def test_clicking_a_cell_lists_exactly_its_images(window, qtbot, labelled_folder, expected):
    evaluate(window, qtbot, labelled_folder)
    view = window.evaluation.view
    for i in range(2):
        for j in range(2):
            view.select_cell(i, j)
            assert sorted(view.listed_files()) == sorted(expected.get((i, j), []))
            assert f"<b>{len(expected.get((i, j), []))}</b>" in view.cell_title.text()

    # A real mouse click at the cell's centre does the same.
    canvas = view.canvas
    qtbot.waitUntil(lambda: canvas.isVisible())
    wrong = next(cell for cell in ((0, 1), (1, 0)) if expected.get(cell))
    with qtbot.waitSignal(canvas.cellClicked, timeout=5_000) as clicked:
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=canvas.cell_position(*wrong))
    assert tuple(clicked.args) == wrong
    assert sorted(view.listed_files()) == sorted(expected[wrong])
    assert any(p.get_gid() == "selected-cell" for p in canvas.figure.axes[0].patches)


def test_explaining_from_a_cell_adds_the_images_and_explains_them(window, qtbot, labelled_folder, expected):
    evaluate(window, qtbot, labelled_folder)
    view = window.evaluation.view
    cell = max(expected, key=lambda c: len(expected[c]))
    view.select_cell(*cell)
    assert view.cell_list.count() >= 2
    view.cell_list.item(0).setSelected(True)
    view.cell_list.item(1).setSelected(True)
    chosen = sorted(view.cell_list.item(i).data(Qt.ItemDataRole.UserRole) for i in (0, 1))
    qtbot.mouseClick(view.explain_button, Qt.MouseButton.LeftButton)

    entries = list(window.entries.values())
    assert sorted(str(e.path) for e in entries) == chosen
    assert window.central_tabs.current_page() == "explanations"
    wait_until_done(qtbot, window, entries)
    assert all(e.status == "done" and {"shap", "lime"} <= set(e.results) for e in entries)
    # The Grid tab takes each image's true class from the evaluation.
    truth = window.evaluation.truth()
    assert window.grid.context()["known_truth"] == truth and truth
    grid = build_grid(entries, "shap", 6, **window.grid.context())  # as the Grid tab builds it
    for entry, label in zip(grid.keys, grid.row_labels):
        path = str(window.entries[entry].path.resolve())
        assert f"true: {truth[path]}" in label.splitlines()

    # Double-clicking an image already in the list explains it again rather than adding it twice.
    item = view.cell_list.item(0)
    with qtbot.waitSignal(window.controller.jobStarted, timeout=30_000):
        view.cell_list.itemDoubleClicked.emit(item)
    assert len(window.entries) == 2
    wait_until_done(qtbot, window, entries)


def test_cancel_stops_the_evaluation_within_a_batch(window, qtbot, labelled_folder, monkeypatch):
    """The model waits inside its second batch until the test has pressed Cancel."""
    worker = window.controller.worker
    real = worker._classifier
    gate, batches = threading.Event(), []

    class HeldAtSecondBatch:
        def __getattr__(self, name):
            return getattr(real, name)

        def predict(self, images):
            batches.append(len(images))
            if len(batches) == 2:
                gate.wait(30)
            return real.predict(images)

    monkeypatch.setattr(worker, "_classifier", HeldAtSecondBatch())
    view = window.evaluation.view
    with qtbot.waitSignal(window.controller.evaluationStarted, timeout=30_000):
        job = window.evaluation.evaluate_folder(labelled_folder, batch_size=2)
    qtbot.waitUntil(lambda: len(batches) == 2, timeout=30_000)  # the engine is inside batch 2
    assert view.progress.isVisible() and view.cancel_button.isVisible()
    assert window.chrome.cancel_action.isEnabled() and window.controller.busy

    with qtbot.waitSignal(worker.evaluationCancelled, timeout=30_000):
        qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
        gate.set()
    assert job.state == "cancelled" and len(batches) == 2  # no batch started after the cancel
    assert not view.progress.isVisible() and "cancelled" in view.folder_label.text()
    assert window.controller.evaluation is None and not window.controller.busy
    monkeypatch.setattr(worker, "_classifier", real)

    # The app keeps working: the next evaluation runs to the end.
    assert evaluate(window, qtbot, labelled_folder).state == "done"


def test_a_misnamed_sub_folder_is_skipped_with_one_note_and_the_rest_evaluated(window, qtbot, tmp_path,
                                                                              labelled_folder):
    mixed = tmp_path / "photos"
    for name in ("bright region", "brite"):
        (mixed / name).mkdir(parents=True)
        Image.fromarray(region_image()).save(mixed / name / "a.png")
    job = evaluate(window, qtbot, mixed)
    assert job.state == "done"
    result = window.evaluation.result
    assert result.total == 1 and result.skipped_folders == ["brite"]
    notes = window.evaluation.view.notes.text()
    assert "1 sub-folder matches no class label and was skipped: brite" in notes
    assert "skipped 1 sub-folder (brite)" in window.statusBar().currentMessage()


def test_a_folder_with_no_class_sub_folder_is_one_clear_line_and_the_app_keeps_working(window, qtbot, tmp_path,
                                                                                       labelled_folder):
    bad = tmp_path / "photos"
    (bad / "brite").mkdir(parents=True)
    Image.fromarray(region_image()).save(bad / "brite" / "a.png")
    with qtbot.waitSignal(window.controller.evaluationFailed, timeout=30_000) as failed:
        job = window.evaluation.evaluate_folder(bad)
    message = failed.args[1]
    assert job.state == "failed" and "\n" not in message
    assert "brite" in message and "no sub-folder matches a class label" in message
    assert not window.banner.isHidden() and "brite" in window.banner.text()
    assert "Traceback" not in window.banner.text()
    assert evaluate(window, qtbot, labelled_folder).state == "done"


def test_export_writes_what_the_command_line_writes_and_asks_before_replacing(window, qtbot, labelled_folder,
                                                                             tmp_path, monkeypatch):
    evaluate(window, qtbot, labelled_folder)
    result = window.evaluation.result
    written = window.evaluation.export(tmp_path / "out")
    assert [p.name for p in written] == ["metrics.json", "confusion_matrix.png"]
    metrics = read_json(tmp_path / "out" / "metrics.json")
    assert metrics == read_json_roundtrip(result.to_json())
    assert metrics["confusion_matrix"] == result.confusion_matrix.tolist()
    assert (tmp_path / "out" / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No))
    (tmp_path / "out" / "metrics.json").write_text("keep me")
    assert window.evaluation.export(tmp_path / "out") == []
    assert asked and (tmp_path / "out" / "metrics.json").read_text() == "keep me"


def read_json_roundtrip(data):
    import json

    return json.loads(json.dumps(data))
