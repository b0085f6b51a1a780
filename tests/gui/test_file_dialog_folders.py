"""Every open and save dialog starts in the folder the last one of its kind ended in
(remembered across launches), never in the folder the app runs from."""

import re
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog

GUI = Path(__file__).resolve().parents[2] / "gui"


class FakeDialogs:
    """Stands in for QFileDialog's static functions: records where each dialog starts and
    answers with the next path given."""

    def __init__(self, monkeypatch) -> None:
        self.starts: list[str] = []
        self.answer = ""
        for name in ("getOpenFileName", "getSaveFileName"):
            monkeypatch.setattr(QFileDialog, name, staticmethod(self._file))
        monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(self._files))
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(self._folder))

    def _file(self, parent, title, start, *rest, **kw):
        self.starts.append(start)
        return self.answer, ""

    def _files(self, parent, title, start, *rest, **kw):
        self.starts.append(start)
        return ([self.answer] if self.answer else []), ""

    def _folder(self, parent, title, start, *rest, **kw):
        self.starts.append(start)
        return self.answer


def test_no_dialog_bypasses_the_remembered_folders():
    """A new QFileDialog call elsewhere would start in the app's folder again."""
    direct = re.compile(r"QFileDialog\.get\w+\(")
    offenders = [f"{p.name}:{n}" for p in sorted(GUI.glob("*.py")) if p.name != "remembered_folders.py"
                 for n, line in enumerate(p.read_text().splitlines(), 1) if direct.search(line)]
    assert offenders == []


def test_first_dialogs_start_at_home_not_in_the_working_folder(qapp, clean_settings, monkeypatch, tmp_path):
    from gui.remembered_folders import IMAGES, open_files

    monkeypatch.chdir(tmp_path)
    dialogs = FakeDialogs(monkeypatch)
    open_files(None, IMAGES, "Open images", "*")
    assert dialogs.starts == [str(Path.home())]


def test_each_kind_of_dialog_starts_where_the_last_one_ended(qapp, clean_settings, monkeypatch, tmp_path):
    from gui.engine_controller import EngineController
    from gui.exporting import ask_figure_path, export_maps
    from gui.image_entry import ImageEntry
    from gui.model_background_field import BackgroundFolderField
    from gui.model_dialog import OpenModelDialog
    from gui.weights_dialog import WeightsAssistant
    from gui.banner import Banner
    from PySide6.QtWidgets import QMainWindow

    dialogs = FakeDialogs(monkeypatch)
    models, exports, background = (tmp_path / n for n in ("models", "exports", "background"))
    for folder in (models, exports, background):
        folder.mkdir()
    (models / "net.keras").write_bytes(b"")

    # Models: the model dialog's buttons and the weights file share one remembered folder.
    dialog = OpenModelDialog()
    dialogs.answer = str(models / "net.keras")
    dialog.choose_model_file()
    dialog.model_edit.clear()
    dialogs.answer = ""
    dialog.choose_labels()
    window = QMainWindow()
    controller = EngineController(window)
    WeightsAssistant(window, Banner(), controller).choose_file()
    assert dialogs.starts[1:] == [str(models), str(models)]

    # Exports: a figure saved in one folder; the next figure and the maps start there.
    dialogs.starts.clear()
    dialogs.answer = str(exports / "figure.png")
    assert ask_figure_path(None, "cat.281-tabby.png") == exports / "figure.png"
    dialogs.answer = ""
    ask_figure_path(None, "cat.282-tiger_cat.png")
    export_maps(None, ImageEntry("cat", np.zeros((4, 4, 3), np.uint8), "cat.png"), None)
    assert dialogs.starts[1:] == [str(exports / "cat.282-tiger_cat.png"), str(exports)]

    # Background images: their own folder, kept apart from the others.
    dialogs.starts.clear()
    field = BackgroundFolderField()
    dialogs.answer = str(background)
    field.choose()
    field.clear()
    dialogs.answer = ""
    field.choose()
    assert dialogs.starts[1] == str(background)


def test_the_folders_survive_a_new_launch(qapp, clean_settings, monkeypatch, tmp_path, settings_folder):
    from gui.remembered_folders import IMAGES, start_folder

    dialogs = FakeDialogs(monkeypatch)
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "cat.png").write_bytes(b"")
    from gui.remembered_folders import open_files

    dialogs.answer = str(photos / "cat.png")
    open_files(None, IMAGES, "Open images", "*")
    # Written to the settings file, which is all a new launch reads.
    assert any(str(photos) in f.read_text() for f in settings_folder.rglob("*.ini"))
    assert start_folder(IMAGES) == str(photos)
    photos.joinpath("cat.png").unlink()
    photos.rmdir()
    assert start_folder(IMAGES) == str(Path.home())  # gone: home, not a dead folder


def test_the_window_remembers_the_images_folder(window, qtbot, monkeypatch, image_folder):
    dialogs = FakeDialogs(monkeypatch)
    dialogs.answer = str(image_folder / "region.png")
    window.intake.open_files()
    dialogs.answer = ""
    window.intake.open_folder()
    assert dialogs.starts[-1] == str(image_folder)
