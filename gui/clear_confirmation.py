"""The question Edit ▸ Clear list asks when images have explanations (minutes of work each)."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMessageBox, QWidget


def undo_keys() -> str:
    """Ctrl+Z here, ⌘Z on a Mac: the Undo key as this platform writes it."""
    return QKeySequence(QKeySequence.StandardKey.Undo).toString(QKeySequence.SequenceFormat.NativeText)


def confirm_clear(parent: QWidget, images: int, explained: int) -> bool:
    """True to clear. The default button is Cancel: the question is there to catch a click
    or a key press that was not meant, so Enter (or Esc) must not be the destructive answer.
    Undo still brings the list back, but only until the app quits, and only while the
    history holds it; a careful app does not make the fast path the one that loses work."""
    box = QMessageBox(QMessageBox.Icon.Question, "Clear the list",
                      f"Remove all {images} image{'s' if images != 1 else ''} from the list? "
                      f"{explained} of them {'has' if explained == 1 else 'have'} explanations.",
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, parent)
    box.setInformativeText(f"Edit ▸ Undo ({undo_keys()}) brings them back with their results.")
    box.button(QMessageBox.StandardButton.Yes).setText("Clear list")
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setEscapeButton(QMessageBox.StandardButton.Cancel)
    return box.exec() == QMessageBox.StandardButton.Yes
