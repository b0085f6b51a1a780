"""Explain ▸ Keep results between launches, and Clear stored results…

The engine stores every explanation it computes and reuses it when the same model, image
and settings come again (engine.stored_run); these are the person's two controls over that
store. The choice is remembered (QSettings) and the engine thread is told at start-up.
"""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMessageBox

from gui.menu_lookup import menu_named
from gui.settings_store import open_settings

KEEP_KEY = "results/keep"


def keep_results() -> bool:
    """The saved choice; on unless the person turned it off."""
    value = open_settings().value(KEEP_KEY, True)
    return value not in (False, "false", "0", 0)


class StoredResultsActions:
    """Owns the two menu actions; talks to the engine only through ``controller``."""

    def __init__(self, window: QMainWindow, controller) -> None:
        self._window = window
        self._controller = controller
        self.keep_action = QAction("&Keep results between launches", window)
        self.keep_action.setObjectName("keepResultsAction")
        self.keep_action.setCheckable(True)
        self.keep_action.setChecked(keep_results())
        self.keep_action.setStatusTip("Reuse an explanation made earlier (same model, image and settings) "
                                      "instead of computing it again")
        self.keep_action.toggled.connect(self._set_keep)
        self.clear_action = QAction("Clear &stored results…", window)
        self.clear_action.setObjectName("clearStoredResultsAction")
        self.clear_action.setStatusTip("Forget every stored explanation; they are computed again when asked for")
        self.clear_action.triggered.connect(self.clear)
        menu = menu_named(window, "E&xplain")
        menu.addSeparator()
        menu.addAction(self.keep_action)
        menu.addAction(self.clear_action)
        controller.storeCleared.connect(self._on_cleared)
        controller.set_keep_results(self.keep_action.isChecked())

    def _set_keep(self, keep: bool) -> None:
        store = open_settings()
        store.setValue(KEEP_KEY, keep)
        store.sync()
        self._controller.set_keep_results(keep)

    def clear(self) -> None:
        answer = QMessageBox.question(
            self._window, "Clear stored results",
            "Forget every stored explanation?\n\nImages explained before are computed again the next "
            "time; results on screen stay.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        if answer == QMessageBox.StandardButton.Yes:
            self._controller.clear_stored_results()

    def _on_cleared(self, count: int, message: str) -> None:
        if count < 0:
            text = f"Could not clear the stored results: {message}"
        else:
            text = f"Cleared {count} stored result{'s' if count != 1 else ''}"
        self._window.statusBar().showMessage(text, 8000)
