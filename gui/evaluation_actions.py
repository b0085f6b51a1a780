"""Labelled-folder evaluation in the window: pick a folder, run it on the engine thread,
show the result, export it, and explain the images of a confusion-matrix cell.

``EvaluationFeature`` owns the Evaluation tab's behaviour, its menu actions and the last
result; the window composes it and routes the controller's evaluation signals to its
``on_*`` methods. The engine does the work (``engine.evaluate.evaluate_folder`` through
``EngineController.submit_evaluation``); explaining goes through the window's usual intake
and ``explain`` (passed in), so those images behave like any other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow

from engine.errors import EngineError
from gui.evaluation_job import EvaluationJob
from gui.evaluation_view import EvaluationView
from gui.exporting import confirm_overwrite
from gui.menu_lookup import add_after, menu_named
from gui.remembered_folders import EVALUATION, EXPORTS, existing_folder, remember_folder

MESSAGE_MS = 10_000


class EvaluationFeature:
    """Evaluate a labelled folder, show and export the result, explain a cell's images.

    ``window`` is used only to parent dialogs, for the Model and File menus and for the
    status bar. ``entries`` is the window's image dict (read only: new images come through
    ``add_paths``); ``make_action(text, slot, shortcut, tip)`` makes a window action;
    ``export_anchor`` is the File menu action the export goes after.
    """

    def __init__(self, window: QMainWindow, view: EvaluationView, controller, *, banner, tabs,
                 entries: dict, add_paths: Callable, explain: Callable, select_image: Callable,
                 report: Callable, update_actions: Callable, mark_grid_stale: Callable,
                 make_action: Callable, export_anchor: QAction) -> None:
        self._window = window
        self.view = view
        self._controller = controller
        self._banner = banner
        self._tabs = tabs
        self._entries = entries
        self._add_paths = add_paths
        self._explain = explain
        self._select_image = select_image
        self._report = report
        self._update_actions = update_actions
        self._mark_grid_stale = mark_grid_stale
        self.result = None  # engine.evaluate.EvaluationResult of the last finished run

        view.evaluateRequested.connect(self.evaluate_folder)
        view.cancelRequested.connect(self.cancel)
        view.exportRequested.connect(self.export)
        view.explainRequested.connect(self.explain_files)

        self.evaluate_action = make_action("&Evaluate folder…", self.evaluate_folder, "Ctrl+Shift+L",
                                           "Accuracy and confusion matrix on a folder with one "
                                           "sub-folder of images per class")
        self.cancel_action = make_action("Cancel e&valuation", self.cancel, None, "Stop the running evaluation")
        self.export_action = make_action("Export e&valuation…", self.export, None,
                                         "Write metrics.json and confusion_matrix.png")
        model_menu = menu_named(window, "&Model")
        model_menu.addSeparator()
        model_menu.addAction(self.evaluate_action)
        model_menu.addAction(self.cancel_action)
        add_after(menu_named(window, "&File"), export_anchor, [self.export_action])

    def refresh_actions(self) -> None:
        self.export_action.setEnabled(self.result is not None)
        self.cancel_action.setEnabled(self._controller.evaluation is not None)

    def _status(self, message: str) -> None:
        self._window.statusBar().showMessage(message, MESSAGE_MS)

    # ------------------------------------------------------------------ running

    def evaluate_folder(self, folder: str | Path | None = None, batch_size: int = 32) -> EvaluationJob | None:
        """Evaluate ``folder`` (asked for when not given) on the engine thread."""
        if folder is None:
            folder = existing_folder(self._window, EVALUATION,
                                     "Evaluate a labelled folder (one sub-folder of images per class)")
            if not folder:
                return None
        remember_folder(EVALUATION, folder)
        if self._controller.model_state == "failed":
            self._report("Load a model before evaluating a folder", topic="evaluation")
            return None
        self._banner.dismiss("evaluation")
        waiting = self._controller.running_job is not None or self._controller.model_state != "ready"
        job = self._controller.submit_evaluation(str(folder), batch_size)
        self._tabs.show_page("evaluation")
        self.view.evaluation_started(job, waiting=waiting)
        if waiting:
            self._status("The evaluation starts when the running work ends")
        self._update_actions()
        return job

    def cancel(self) -> bool:
        """Stop the running evaluation; False when there is none."""
        job = self._controller.evaluation
        if not self._controller.cancel_evaluation():
            return False
        self._status(f"Evaluation cancelled after {job.done} of {job.total or '?'} images")
        return True

    def truth(self) -> dict[str, str]:
        """Resolved image path -> true class name, for every image of the last evaluation."""
        result = self.result
        if result is None:
            return {}
        return {str(Path(f).resolve()): result.labels[t] for f, t in zip(result.files, result.true_classes)}

    # ------------------------------------------------------------------ controller signals

    def on_started(self, job: EvaluationJob) -> None:
        self.view.evaluation_started(job)
        self._status(f"Evaluating {Path(job.folder).name}…")
        self._update_actions()

    def on_progress(self, job: EvaluationJob) -> None:
        self.view.evaluation_progress(job)

    def on_ready(self, job: EvaluationJob, result) -> None:
        self.result = result
        seconds = time.monotonic() - job.started if job.started is not None else None
        self.view.show_result(result, seconds)
        skipped = f"; {len(result.skipped)} unreadable image(s) skipped" if result.skipped else ""
        if result.skipped_folders:  # the notes under the matrix name them all
            count = len(result.skipped_folders)
            shown = ", ".join(result.skipped_folders[:3]) + (", …" if count > 3 else "")
            skipped += f"; skipped {count} sub-folder{'s' if count != 1 else ''} ({shown}) named like no class"
        self._status(f"Evaluated {result.total} images: accuracy {result.accuracy:.1%}{skipped}")
        self._mark_grid_stale()  # rows from this folder now know their true class

    def on_failed(self, job: EvaluationJob, message: str) -> None:
        self._report(f"Evaluation: {message}", topic="evaluation")

    def on_finished(self, job: EvaluationJob) -> None:
        self.view.evaluation_ended(job)
        self._update_actions()

    # ------------------------------------------------------------------ export

    def export(self, folder: str | Path | None = None) -> list[Path]:
        """metrics.json + confusion_matrix.png, as ``evaluate --out``; asks before replacing."""
        from engine.export import EVALUATION_FILES, write_evaluation

        result = self.result
        if result is None:
            self._report("Nothing to export yet: evaluate a labelled folder first", "info")
            return []
        if folder is None:
            folder = existing_folder(self._window, EXPORTS, "Export the evaluation into folder")
            if not folder:
                return []
        folder = Path(folder)
        existing = [folder / name for name in EVALUATION_FILES if (folder / name).exists()]
        if existing and not confirm_overwrite(self._window, existing):
            return []
        try:
            written = write_evaluation(folder, result)
        except (OSError, ValueError, EngineError) as exc:  # EngineError: a full disk, named
            self._report(f"Could not export the evaluation: {exc}", topic="export")
            return []
        remember_folder(EXPORTS, folder)
        self._status(f"Wrote {', '.join(p.name for p in written)} to {folder}")
        return written

    # ------------------------------------------------------------------ explaining from a cell

    def explain_files(self, paths) -> list:
        """Add these image files to the list (those already there are reused) and explain them."""
        paths = [Path(p) for p in paths]
        known = {e.path.resolve(): e for e in self._entries.values() if e.path is not None}
        fresh = [p for p in paths if p.resolve() not in known]
        added = self._add_paths(fresh) if fresh else []
        known.update({e.path.resolve(): e for e in added if e.path is not None})
        targets = [known[p.resolve()] for p in paths if p.resolve() in known]
        for entry in targets:
            if entry.status not in ("queued", "explaining"):
                self._explain(entry)
        if targets:
            self._select_image(targets[0].key)
            self._tabs.show_page("explanations")
        return targets
