"""The Grid tab's part of the window: build it, keep it current, export it.

A mixin of ``MainWindow``. The grid reads the window's images (``self.entries``) itself
and redraws only while on screen (see ``GridView``); exporting draws a fresh figure at
print size through the same drawing code.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import EngineError
from gui.exporting import ask_figure_path, confirm_overwrite
from gui.grid_canvas import figure_format, save_grid_data
from gui.grid_view import GridView
from gui.menu_lookup import add_after, menu_named

MESSAGE_MS = 10_000


class GridActions:
    def _build_grid_view(self) -> GridView:
        self.grid_view = GridView(entries=lambda: list(self.entries.values()), context=self._grid_context)
        self.grid_view.exportRequested.connect(self.export_grid)
        return self.grid_view

    def _build_grid_actions(self) -> None:
        self.export_grid_action = self._action("Export &grid…", self.export_grid, "Ctrl+Shift+G",
                                               "Save the images × classes grid as PNG, SVG or PDF")
        file_menu = menu_named(self, "&File")
        add_after(file_menu, self.export_maps_action, [self.export_grid_action])

    def _grid_context(self) -> dict:
        """What the window knows beyond the images: true classes from the last evaluation."""
        result = getattr(self, "evaluation_result", None)
        if result is None:
            return {}
        return {"known_truth": self.evaluation_truth(), "class_names": list(result.labels)}

    def export_grid(self, path: str | Path | None = None) -> Path | None:
        """Save the grid (PNG, SVG or PDF by the suffix); asks for a name when none is given,
        and before replacing a file."""
        data = self.grid_view.ensure_current()
        if data is None:
            self.report("Nothing to put in a grid yet: explain some images first", "info")
            return None
        if path is None:
            target = ask_figure_path(self, f"grid - {data.method}.png", "Export grid")
        else:
            target = Path(path)
            if target.exists() and not confirm_overwrite(self, [target]):
                target = None
        if target is None:
            return None
        from engine.export import atomic_write

        try:
            atomic_write(target, lambda f: save_grid_data(f, data, figure_format(target)))
        except (OSError, ValueError, EngineError) as exc:  # EngineError: a full disk, named
            self.report(f"Could not export the grid: {exc}", topic="export")
            return None
        self.statusBar().showMessage(f"Saved {target}", MESSAGE_MS)
        return target
