"""File ▸ Open folder… and folder drops take the sub-folders too, in a stable order, up to a cap,
with one line for what was skipped and one for what could not be read."""

import time

import numpy as np
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog

import gui.image_sources


def _image(path, value=0, size=(8, 8)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(path)


def _tree(root):
    """Images at three depths, a note and a hidden folder (both skipped without a word)."""
    _image(root / "b.png", 10)
    _image(root / "A.png", 20)
    _image(root / "trip" / "day1" / "c.png", 30)
    _image(root / "trip" / "d.jpg", 40)
    (root / "notes.txt").write_text("not an image")
    (root / "trip" / "list.csv").write_text("a,b\n")
    _image(root / ".thumbnails" / "e.png", 50)
    return root


def _open_folder(window, qtbot, monkeypatch, folder):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    reports = []
    original = window.report
    monkeypatch.setattr(window, "report", lambda *a, **k: (reports.append(a[0]), original(*a, **k)))
    window.chrome.open_folder_action.trigger()
    qtbot.waitUntil(lambda: not window.intake.loader.pending, timeout=60_000)
    return reports


def _drop(window, *paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    position = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(position, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    window.dropEvent(QDropEvent(position, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))


def test_open_folder_takes_the_sub_folders_in_sorted_order(window, qtbot, monkeypatch, tmp_path):
    root = _tree(tmp_path / "photos")
    reports = _open_folder(window, qtbot, monkeypatch, root)
    assert [e.path.relative_to(root).as_posix() for e in window.entries.values()] == [
        "A.png", "b.png", "trip/d.jpg", "trip/day1/c.png"]
    assert window.statusBar().currentMessage() == "Opened 4 images in photos"
    assert reports == [] and window.banner.isHidden()  # the note and the CSV: not a word
    assert window.image_list.current_key() == next(iter(window.entries))


def test_dropping_a_folder_takes_its_sub_folders_too(window, qtbot, tmp_path):
    root = _tree(tmp_path / "dropped")
    _drop(window, root)
    qtbot.waitUntil(lambda: not window.intake.loader.pending, timeout=60_000)
    assert sorted(e.name for e in window.entries.values()) == ["A", "b", "c", "d"]
    assert window.statusBar().currentMessage() == "Opened 4 images in dropped"


def test_a_big_folder_stops_at_the_cap_with_one_line_and_the_window_keeps_answering(
        window, qtbot, monkeypatch, tmp_path):
    root = tmp_path / "big"
    for k in range(1234):
        _image(root / f"part{k % 4}" / f"img{k:04d}.png", k % 255, size=(4, 4))
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    started = time.perf_counter()
    try:
        reports = _open_folder(window, qtbot, monkeypatch, root)
    finally:
        timer.stop()
    ended = time.perf_counter()
    line = "Opened 500 of 1,234 images in big (the first 500; the rest skipped)"
    assert window.statusBar().currentMessage() == line
    assert reports == [line]  # in the banner too: hundreds of images left out is news
    names = [e.path.relative_to(root).as_posix() for e in window.entries.values()]
    assert len(names) == 500 and names == sorted(names, key=str.lower)
    assert names[0] == "part0/img0000.png" and names[-1].startswith("part1/")
    # The list filled in slices: the GUI thread ran its timer again and again in between.
    during = [t for t in ticks if started <= t <= ended]
    assert len(during) >= 5, f"the window did not answer while {len(names)} images loaded"


def test_unreadable_images_get_one_summary_line(window, qtbot, monkeypatch, tmp_path):
    root = tmp_path / "mixed"
    _image(root / "good.png")
    _image(root / "sub" / "fine.png")
    for name in ("a.png", "b.png", "sub/c.jpg"):
        (root / name).write_bytes(b"\x89PNG\r\n\x1a\n broken")
    reports = _open_folder(window, qtbot, monkeypatch, root)
    assert reports == ["3 files could not be read: a.png, b.png, sub/c.jpg"]
    assert window.banner.text() == reports[0]
    assert sorted(e.name for e in window.entries.values()) == ["fine", "good"]
    assert window.statusBar().currentMessage() == ("Opened 2 images in mixed · "
                                                   "3 files could not be read: a.png, b.png, sub/c.jpg")


def test_the_summary_names_a_few_and_counts_all():
    names = [f"f{k}.png" for k in range(8)]
    assert gui.image_sources.describe_unreadable(names) == (
        "8 files could not be read: f0.png, f1.png, f2.png, f3.png, f4.png, …")


def test_clear_stops_a_folder_that_is_still_loading(window, qtbot, monkeypatch, tmp_path):
    root = tmp_path / "slow"
    for k in range(100):
        _image(root / f"i{k:03d}.png", size=(4, 4))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(root)))
    window.chrome.open_folder_action.trigger()
    assert window.intake.loader.pending and 0 < len(window.entries) < 100  # the first slice only
    window.intake.remove_all_images()
    qtbot.wait(50)  # event-loop turns in which later slices would have come in
    assert not window.intake.loader.pending and not window.entries
