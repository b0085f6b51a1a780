"""Model ▸ Recent models: the last model files that loaded (from Open model… or --model),
remembered across launches.

Each entry keeps what the file was opened with (class names, preprocessing, layout, custom
layers), so choosing it loads it as Open model… would. Trust is never kept: a file that runs
code is confirmed again. A file that has gone is shown greyed, with a note, until cleared.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from gui.engine_requests import ModelRequest
from gui.model_memory import RESNET50, model_key
from gui.settings_store import open_settings

RECENT_KEY = "models/recent"  # JSON list, newest first: [{"model", "labels", "preprocess", …}]
MAX_RECENT = 8
KEPT = ("labels", "preprocess", "layout", "custom_objects")


def recent_models() -> list[dict]:
    raw = open_settings().value(RECENT_KEY)
    try:
        entries = json.loads(str(raw)) if raw else []
    except ValueError:
        return []  # hand-edited or from another version: start afresh
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("model"), str)][:MAX_RECENT]


def add_recent(request: ModelRequest) -> None:
    """``request``'s model file goes to the top of the list (once; the oldest drops off)."""
    if request.model == RESNET50:
        return
    key = model_key(request.model)
    entry = {"model": key, **{name: getattr(request, name) for name in KEPT}}
    entries = [entry] + [e for e in recent_models() if e["model"] != key]
    _write(entries[:MAX_RECENT])


def clear_recent() -> None:
    _write([])


def recent_request(entry: dict, base: ModelRequest) -> ModelRequest:
    """The request Open model… would make for this entry, on top of the current one (runtime,
    precision carry over); trust is never carried."""
    from dataclasses import replace

    return replace(base, model=entry["model"], weights=None, trust=False,
                   **{name: entry.get(name) or None for name in KEPT})


def _write(entries: list[dict]) -> None:
    store = open_settings()
    store.setValue(RECENT_KEY, json.dumps(entries))
    store.sync()


class RecentModelsMenu(QMenu):
    """The submenu; rebuilt each time it opens, so a file removed meanwhile shows as missing."""

    def __init__(self, open_entry, parent=None) -> None:
        super().__init__("Recent &models", parent)
        self.setObjectName("recentModelsMenu")
        self.setToolTipsVisible(True)
        self._open_entry = open_entry  # callable(entry dict)
        self.aboutToShow.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.clear()
        entries = recent_models()
        if not entries:
            empty = self.addAction("No recent models")
            empty.setEnabled(False)
        for number, entry in enumerate(entries, start=1):
            path = Path(entry["model"])
            present = path.exists()
            text = f"&{number} {path.name}" if number < 10 else path.name
            action = self.addAction(text if present else f"{text} — not found")
            action.setData(entry["model"])
            action.setToolTip(str(path) if present else f"Not found: {path} (moved or deleted)")
            action.setStatusTip(action.toolTip())
            action.setEnabled(present)
            action.triggered.connect(lambda *_, e=entry: self._open_entry(e))
        self.addSeparator()
        self.clear_action: QAction = self.addAction("&Clear recent")
        self.clear_action.setObjectName("clearRecentModels")
        self.clear_action.setEnabled(bool(entries))
        self.clear_action.triggered.connect(self._clear)

    def model_actions(self) -> list[QAction]:
        """The entries (tests and the window read these)."""
        return [a for a in self.actions() if a.data()]

    def _clear(self) -> None:
        clear_recent()
        self.refresh()
