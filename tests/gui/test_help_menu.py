"""Help ▸ Keyboard shortcuts lists every action's shortcut from the actions themselves;
Help ▸ About shows the one app version (the command line's too) and what the app runs on."""

import platform
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QAction, QKeySequence

ROOT = Path(__file__).resolve().parents[2]


def _close(dialog, window, qtbot) -> None:
    """Close a dialog and give the shared window its activation back (offscreen Qt does not),
    so later tests' keyboard shortcuts reach it."""
    dialog.close()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)


def _native(action: QAction) -> list[str]:
    return [s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts()]


def test_f1_opens_every_shortcut_of_the_window(window, qtbot):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    qtbot.keyClick(window, Qt.Key.Key_F1)
    dialog = window.chrome.shortcuts_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5_000)
    rows = dialog.rows()
    shown = {(action, keys) for _, action, keys in rows}
    # Every action of the window that has a shortcut, with all of them, read independently.
    expected = {(a.text().replace("&", ""), ", ".join(_native(a))) for a in window.findChildren(QAction)
                if a.shortcuts() and a.text()}
    assert expected and expected <= shown
    assert ("Explain", "Ctrl+E") in shown and ("Keyboard shortcuts", "F1, Ctrl+/") in shown
    assert ("Next class tab", "Ctrl+PgDown, Ctrl+Tab") in shown
    assert {menu for menu, _, _ in rows} >= {"File", "Edit", "Model", "Explain", "View", "Help"}
    _close(dialog, window, qtbot)

    # Built from the actions: one added later shows up, with its menu, next time it opens.
    extra = QAction("Frobnicate", window)
    extra.setShortcut(QKeySequence("Ctrl+Alt+F"))
    menu = window.menuBar().actions()[0].menu()
    menu.addAction(extra)
    try:
        window.activateWindow()
        qtbot.keyClick(window, Qt.Key.Key_Slash, Qt.KeyboardModifier.ControlModifier)  # Ctrl+/ opens it too
        qtbot.waitUntil(dialog.isVisible, timeout=5_000)
        assert ("File", "Frobnicate", "Ctrl+Alt+F") in dialog.rows()
    finally:
        menu.removeAction(extra)
        _close(dialog, window, qtbot)


def test_about_shows_the_version_python_keras_and_qt(window, qtbot):
    from engine import __version__

    help_menu = next(a.menu() for a in window.menuBar().actions() if a.menu() and "Help" in a.menu().title())
    about = next(a for a in help_menu.actions() if a.text().replace("&", "").startswith("About"))
    about.trigger()
    dialog = window.chrome.about_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5_000)
    text = dialog.label.text()
    import keras

    assert f"Image Explainer {__version__}" in text
    assert platform.python_version() in text and keras.__version__ in text
    backend = keras.backend.backend()
    assert f"{backend} {sys.modules[backend].__version__}" in text and qVersion() in text
    _close(dialog, window, qtbot)


def test_the_command_line_reports_the_same_version():
    from engine import __version__

    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "--version"], capture_output=True,
                            text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.strip() == f"Image Explainer {__version__}"
