"""The Grid tab's part of the window: its view, File ▸ Export grid…, and exporting.

``GridFeature`` is composed by ``MainWindow``: it holds the window's image entries (read
when the grid is rebuilt), ``report`` for one-line problems, and the evaluation feature for
true classes; the window itself only for dialogs, the File menu and the status bar. The
grid redraws only while on screen (see ``GridView``); exporting draws a fresh figure at
print size through the same drawing code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow

from engine.errors import EngineError
from gui.exporting import ask_figure_path, confirm_overwrite
from gui.grid_canvas import figure_format, save_grid_data
from gui.grid_view import GridView
from gui.menu_lookup import add_after, menu_named

MESSAGE_MS = 10_000


class GridFeature:
    def __init__(self, window: QMainWindow, entries: dict, report: Callable[..., None]) -> None:
        self._window = window
        self._report = report
        self._evaluation = None  # gui.evaluation_actions.EvaluationFeature, once there is one
        self.view = GridView(entries=lambda: list(entries.values()), context=self.context)
        self.view.exportRequested.connect(self.export)
        self.export_action: QAction | None = None

    def add_export_action(self, make_action: Callable[..., QAction], after: QAction) -> QAction:
        """File ▸ Export grid…, right after ``after`` (the window's actions exist by then)."""
        self.export_action = make_action("Export &grid…", self.export, "Ctrl+Shift+G",
                                         "Save the images × classes grid as PNG, SVG or PDF")
        add_after(menu_named(self._window, "&File"), after, [self.export_action])
        return self.export_action

    def use_evaluation(self, evaluation) -> None:
        """True classes come from this feature's last evaluation (``result``, ``truth()``)."""
        self._evaluation = evaluation

    def context(self) -> dict:
        """What the window knows beyond the images: true classes from the last evaluation."""
        result = None if self._evaluation is None else self._evaluation.result
        if result is None:
            return {}
        return {"known_truth": self._evaluation.truth(), "class_names": list(result.labels)}

    def export(self, path: str | Path | None = None) -> Path | None:
        """Save the grid (PNG, SVG or PDF by the suffix); asks for a name when none is given,
        and before replacing a file."""
        data = self.view.ensure_current()
        if data is None:
            self._report("Nothing to put in a grid yet: explain some images first", "info")
            return None
        if path is None:
            target = ask_figure_path(self._window, f"grid - {data.method}.png", "Export grid")
        else:
            target = Path(path)
            if target.exists() and not confirm_overwrite(self._window, [target]):
                target = None
        if target is None:
            return None
        from engine.export import atomic_write

        try:
            atomic_write(target, lambda f: save_grid_data(f, data, figure_format(target)))
        except (OSError, ValueError, EngineError) as exc:  # EngineError: a full disk, named
            self._report(f"Could not export the grid: {exc}", topic="export")
            return None
        self._window.statusBar().showMessage(f"Saved {target}", MESSAGE_MS)
        return target
