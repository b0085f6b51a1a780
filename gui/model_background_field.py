"""The settings panel's background-folder field for background-set SHAP.

A line edit (type or paste a path) with a folder button inside it; ``folderChanged`` fires
when the person picks a folder, finishes typing, or clears the field, not at every key.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLineEdit, QStyle

from gui.remembered_folders import BACKGROUND, existing_folder

BACKGROUND_TIP = ("A folder of typical images (say 50–200 training images) that SHAP compares "
                  "each image against. Sub-folders are searched too; at most 'Max images' are "
                  "used, a random subset when there are more.")


class BackgroundFolderField(QLineEdit):
    folderChanged = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("choose a folder of typical images…")
        self.setClearButtonEnabled(True)
        self.setToolTip(BACKGROUND_TIP)
        self.choose_action = self.addAction(self.style().standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon),
                                            QLineEdit.ActionPosition.TrailingPosition)
        self.choose_action.setToolTip("Choose the background folder…")
        self.choose_action.triggered.connect(self.choose)
        self._last = ""
        self.editingFinished.connect(self._announce)
        self.textChanged.connect(lambda text: self._announce() if not text else None)
        self.textChanged.connect(self._update_tip)  # the field shows the end of a long path

    def _update_tip(self, text: str) -> None:
        self.setToolTip(f"{text}\n\n{BACKGROUND_TIP}" if text else BACKGROUND_TIP)

    def folder(self) -> str:
        return self.text().strip()

    def set_folder(self, folder: str) -> None:
        self.setText(folder or "")
        self._last = self.folder()

    def choose(self) -> str:
        folder = existing_folder(self.window(), BACKGROUND, "Choose the background images folder",
                                 self.folder() if Path(self.folder()).is_dir() else "")
        if folder:
            self.setText(folder)
            self._announce()
        return folder

    def _announce(self) -> None:
        if self.folder() != self._last:
            self._last = self.folder()
            self.folderChanged.emit(self._last)
