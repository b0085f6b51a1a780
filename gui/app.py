"""``run_app(args)``: the application object, the window, and what the command line asked for.

The window is shown before the engine thread starts loading the model, so nothing here may
import keras, ``engine.models``, ``engine.explain`` or ``engine.backend`` at module level.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import QApplication

from gui.engine_requests import ModelRequest
from gui.main_window import MainWindow
from gui.settings_store import APPLICATION, MAX_STABILITY_RUNS, METHOD_CHOICES, ORGANISATION

METHOD_ORDER = ("shap", "lime", "ig", "gradcam")


def parse_methods(text: str) -> str:
    """'lime,shap' -> 'shap,lime'; raises ValueError for unknown names or combinations."""
    names = {m.strip().lower() for m in text.split(",") if m.strip()}
    unknown = names - set(METHOD_ORDER)
    methods = ",".join(m for m in METHOD_ORDER if m in names)
    if unknown or not names or methods not in METHOD_CHOICES:
        raise ValueError(f"--explain {text!r}: choose {', '.join(METHOD_CHOICES)}")
    return methods


def stability_runs(args) -> int | None:
    """``--stability N`` checked against the settings panel's range; None when not given."""
    runs = getattr(args, "stability", None)
    if runs is not None and not 0 <= runs <= MAX_STABILITY_RUNS:
        raise ValueError(f"--stability {runs}: choose 0 (off) to {MAX_STABILITY_RUNS} re-runs")
    return runs


def application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    return app


def model_request(args) -> ModelRequest:
    """The command line's model; without --model or --weights, the model last opened in the
    window. Without --precision, Model ▸ Fast CPU mode as it was last left."""
    from gui.model_memory import last_model_request, remembered_precision

    given = ModelRequest.from_args(args)
    if not getattr(args, "precision", None):
        given = replace(given, precision=remembered_precision())
    if getattr(args, "model", None) or getattr(args, "weights", None):
        return given
    last = last_model_request()
    if last is None:
        return given
    return replace(given, model=last.model, labels=given.labels or last.labels,
                   preprocess=given.preprocess or last.preprocess)


def build_window(args) -> MainWindow:
    """The window with the command line's settings applied (for this run only, not saved)."""
    runs = stability_runs(args)  # checked before the window opens
    # A screenshot run ignores the remembered layout, so every run gives the same picture.
    window = MainWindow(model_request(args), restore_layout=not getattr(args, "screenshot", None))
    explain = getattr(args, "explain", None)
    window.settings_panel.apply_overrides(
        methods=parse_methods(explain) if explain else None,
        classes=getattr(args, "classes", None),
        lime_samples=getattr(args, "samples", None),
        shap_max_evals=getattr(args, "max_evals", None),
        faithfulness=True if getattr(args, "faithfulness", False) else None,
        stability_runs=runs,
        ig_baseline=getattr(args, "ig_baseline", None))
    window.update_plan()
    return window


def start(window: MainWindow, args) -> None:
    """Start the engine, add the command line's images, and queue the first one if asked."""
    window.start()
    images = list(getattr(args, "images", None) or [])
    added = window.add_paths(images) if images else []
    if getattr(args, "explain", None) and added:
        window.image_list.select_key(added[0].key)
        window.explain(added[0])


def run_app(args) -> int:
    app = application()
    try:
        window = build_window(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    screenshot = getattr(args, "screenshot", None)
    window.show()
    shot = None
    if screenshot:
        from gui.screenshot import ScreenshotWhenIdle

        shot = ScreenshotWhenIdle(window, Path(screenshot))
    start(window, args)
    code = app.exec()
    window.controller.shutdown()
    if shot is not None and shot.exit_code is not None and shot.exit_code >= 0:
        return shot.exit_code
    return code
