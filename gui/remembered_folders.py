"""Every open and save dialog starts where the last one of its kind ended.

One folder per kind ("images", "models", "exports", …), kept in QSettings across launches.
Without one (first launch, or the folder is gone) dialogs start in the home folder, never in
the folder the app happens to run from.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from gui.settings_store import open_settings

GROUP = "folders"
IMAGES, MODELS, EXPORTS, EVALUATION, BACKGROUND = "images", "models", "exports", "evaluation", "background"


def start_folder(kind: str) -> str:
    """The folder the last ``kind`` dialog ended in, if it still exists; else home."""
    saved = str(open_settings().value(f"{GROUP}/{kind}", "") or "")
    if saved and Path(saved).is_dir():
        return saved
    return str(Path.home())


def remember_folder(kind: str, path: str | Path) -> None:
    """Remember where a ``kind`` dialog ended: the folder chosen, or the folder of the file."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    store = open_settings()
    store.setValue(f"{GROUP}/{kind}", str(folder))
    store.sync()


def open_file(parent: QWidget | None, kind: str, title: str, filters: str, start: str = "") -> str:
    """One existing file, or "" when cancelled; ``start`` (a folder) wins over the remembered one."""
    path, _ = QFileDialog.getOpenFileName(parent, title, start or start_folder(kind), filters)
    if path:
        remember_folder(kind, path)
    return path


def open_files(parent: QWidget | None, kind: str, title: str, filters: str) -> list[str]:
    paths, _ = QFileDialog.getOpenFileNames(parent, title, start_folder(kind), filters)
    if paths:
        remember_folder(kind, paths[0])
    return list(paths)


def existing_folder(parent: QWidget | None, kind: str, title: str, start: str = "") -> str:
    folder = QFileDialog.getExistingDirectory(parent, title, start or start_folder(kind))
    if folder:
        remember_folder(kind, folder)
    return folder


def save_file(parent: QWidget | None, kind: str, title: str, suggested_name: str,
              filters: str) -> tuple[str, str]:
    """(path, chosen filter); the dialog offers ``suggested_name`` in the remembered folder."""
    suggested = str(Path(start_folder(kind)) / suggested_name)
    path, chosen = QFileDialog.getSaveFileName(parent, title, suggested, filters)
    if path:
        remember_folder(kind, Path(path).parent)
    return path, chosen
