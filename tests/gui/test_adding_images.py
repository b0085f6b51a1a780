"""Images get in by drop (real QMimeData), folder, paste and samples; bad ones are reported once."""

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication


def _mime_with_files(*paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def _drop(window, mime: QMimeData) -> QDropEvent:
    position = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(position, Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    event = QDropEvent(position, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    return event


def test_drop_adds_images_and_reports_non_images_once(window, qtbot, image_folder, tmp_path, monkeypatch):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes((image_folder / "region.png").read_bytes()[:60])  # header, no pixels
    reports = []
    original = window.report
    monkeypatch.setattr(window, "report", lambda *a, **k: (reports.append(a), original(*a, **k)))

    event = _drop(window, _mime_with_files(image_folder / "region.png", notes,
                                           image_folder / "coffee.jpg", corrupt))

    assert event.isAccepted()
    names = [e.name for e in window.entries.values()]
    assert names == ["region", "coffee"]
    assert window.image_list.count() == 2
    # One polite message for the whole drop, naming both bad files.
    assert len(reports) == 1
    text = window.banner.text()
    assert "2 files were not added" in text and "notes.txt" in text and "broken.png" in text
    assert not window.banner.isHidden()
    assert "broken.png" in window.statusBar().currentMessage()
    # The first dropped image is current and its top classes show up from the engine thread.
    entry = window.current_entry()
    assert entry.name == "region"
    qtbot.waitUntil(lambda: bool(window.predictions_view.shown_predictions()), timeout=20_000)
    shown = window.predictions_view.shown_predictions()
    assert [name for name, _ in shown] == ["bright region", "dark region"]
    assert shown[0][1].endswith("%")
    assert window.image_list.status_text(entry.key) == "ready"


def test_drop_folder_adds_its_images(window, image_folder):
    _drop(window, _mime_with_files(image_folder))
    assert sorted(e.name for e in window.entries.values()) == ["coffee", "flipped", "noise", "region"]
    assert window.banner.isHidden()


def test_dropping_only_a_non_image_adds_nothing_and_says_why(window, tmp_path):
    notes = tmp_path / "readme.txt"
    notes.write_text("hello")
    _drop(window, _mime_with_files(notes))
    assert not window.entries
    assert "readme.txt: not an image file" in window.banner.text()


def test_paste_image_from_clipboard(window, qtbot):
    image = QImage(40, 30, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.darkCyan)
    QApplication.clipboard().setImage(image)
    added = window.intake.paste()
    assert [e.name for e in added] == ["clipboard"]
    assert added[0].image.shape == (30, 40, 3)
    assert tuple(added[0].image[0, 0]) == (0, 128, 128)
    qtbot.waitUntil(lambda: added[0].predictions is not None, timeout=20_000)


@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut", "rocket"])
def test_open_sample_menu(window, name):
    titles = {a.data(): a for a in window.chrome.samples_menu.actions()}
    assert name in titles
    titles[name].trigger()
    entry = window.current_entry()
    assert entry.name == name and entry.source == f"sample:{name}"
    assert entry.image.dtype == np.uint8 and entry.image.ndim == 3 and entry.image.shape[2] == 3


def test_file_open_dialog_multi_select(window, image_folder, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    picked = [str(image_folder / "noise.png"), str(image_folder / "flipped.png")]
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: (picked, "")))
    window.chrome.open_action.trigger()
    assert [e.name for e in window.entries.values()] == ["noise", "flipped"]
