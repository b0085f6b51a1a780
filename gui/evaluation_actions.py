"""Labelled-folder evaluation in the window: pick a folder, run it on the engine thread,
show the result, export it, and explain the images of a confusion-matrix cell.

A mixin of ``MainWindow``. The engine does the work (``engine.evaluate.evaluate_folder``
through ``EngineController.submit_evaluation``); explaining goes through the window's
usual intake (``add_paths``) and ``explain``, so those images behave like any other.
"""

from __future__ import annotations

import time
from pathlib import Path

from engine.errors import EngineError
from gui.evaluation_job import EvaluationJob
from gui.evaluation_view import EvaluationView
from gui.exporting import confirm_overwrite
from gui.menu_lookup import add_after, menu_named
from gui.remembered_folders import EVALUATION, EXPORTS, existing_folder, remember_folder

MESSAGE_MS = 10_000


class EvaluationActions:
    evaluation_result = None  # engine.evaluate.EvaluationResult of the last finished run

    def _build_evaluation_view(self) -> EvaluationView:
        self.evaluation_view = EvaluationView()
        self.evaluation_view.evaluateRequested.connect(self.evaluate_folder)
        self.evaluation_view.cancelRequested.connect(self.cancel_evaluation)
        self.evaluation_view.exportRequested.connect(self.export_evaluation)
        self.evaluation_view.explainRequested.connect(self.explain_files)
        return self.evaluation_view

    def _build_evaluation_actions(self) -> None:
        self.evaluate_action = self._action("&Evaluate folder…", self.evaluate_folder, "Ctrl+Shift+L",
                                            "Accuracy and confusion matrix on a folder with one "
                                            "sub-folder of images per class")
        self.cancel_evaluation_action = self._action("Cancel e&valuation", self.cancel_evaluation, None,
                                                     "Stop the running evaluation")
        self.export_evaluation_action = self._action("Export e&valuation…", self.export_evaluation, None,
                                                     "Write metrics.json and confusion_matrix.png")
        model_menu = menu_named(self, "&Model")
        model_menu.addSeparator()
        model_menu.addAction(self.evaluate_action)
        model_menu.addAction(self.cancel_evaluation_action)
        add_after(menu_named(self, "&File"), getattr(self, "export_grid_action", self.export_maps_action),
                  [self.export_evaluation_action])

    def _connect_evaluation(self) -> None:
        c = self.controller
        c.evaluationStarted.connect(self._on_evaluation_started)
        c.evaluationProgress.connect(self.evaluation_view.evaluation_progress)
        c.evaluationReady.connect(self._on_evaluation_ready)
        c.evaluationFailed.connect(self._on_evaluation_failed)
        c.evaluationFinished.connect(self._on_evaluation_finished)

    # ------------------------------------------------------------------ running

    def evaluate_folder(self, folder: str | Path | None = None, batch_size: int = 32) -> EvaluationJob | None:
        """Evaluate ``folder`` (asked for when not given) on the engine thread."""
        if folder is None:
            folder = existing_folder(self, EVALUATION,
                                     "Evaluate a labelled folder (one sub-folder of images per class)")
            if not folder:
                return None
        remember_folder(EVALUATION, folder)
        if self.controller.model_state == "failed":
            self.report("Load a model before evaluating a folder", topic="evaluation")
            return None
        self.banner.dismiss("evaluation")
        waiting = self.controller.running_job is not None or self.controller.model_state != "ready"
        job = self.controller.submit_evaluation(str(folder), batch_size)
        self.central_tabs.show_page("evaluation")
        self.evaluation_view.evaluation_started(job, waiting=waiting)
        if waiting:
            self.statusBar().showMessage("The evaluation starts when the running work ends", MESSAGE_MS)
        self._update_actions()
        return job

    def cancel_evaluation(self) -> bool:
        job = self.controller.evaluation
        if not self.controller.cancel_evaluation():
            return False
        self.statusBar().showMessage(f"Evaluation cancelled after {job.done} of {job.total or '?'} images",
                                     MESSAGE_MS)
        return True

    def _on_evaluation_started(self, job: EvaluationJob) -> None:
        self.evaluation_view.evaluation_started(job)
        self.statusBar().showMessage(f"Evaluating {Path(job.folder).name}…", MESSAGE_MS)
        self._update_actions()

    def _on_evaluation_ready(self, job: EvaluationJob, result) -> None:
        self.evaluation_result = result
        seconds = time.monotonic() - job.started if job.started is not None else None
        self.evaluation_view.show_result(result, seconds)
        skipped = f"; {len(result.skipped)} unreadable image(s) skipped" if result.skipped else ""
        if result.skipped_folders:  # the notes under the matrix name them all
            count = len(result.skipped_folders)
            shown = ", ".join(result.skipped_folders[:3]) + (", …" if count > 3 else "")
            skipped += f"; skipped {count} sub-folder{'s' if count != 1 else ''} ({shown}) named like no class"
        self.statusBar().showMessage(f"Evaluated {result.total} images: accuracy {result.accuracy:.1%}{skipped}",
                                     MESSAGE_MS)
        self.grid_view.mark_stale()  # rows from this folder now know their true class

    def _on_evaluation_failed(self, job: EvaluationJob, message: str) -> None:
        self.report(f"Evaluation: {message}", topic="evaluation")

    def _on_evaluation_finished(self, job: EvaluationJob) -> None:
        self.evaluation_view.evaluation_ended(job)
        self._update_actions()

    def evaluation_truth(self) -> dict[str, str]:
        """Resolved image path -> true class name, for every image of the last evaluation."""
        result = self.evaluation_result
        if result is None:
            return {}
        return {str(Path(f).resolve()): result.labels[t] for f, t in zip(result.files, result.true_classes)}

    # ------------------------------------------------------------------ export

    def export_evaluation(self, folder: str | Path | None = None) -> list[Path]:
        """metrics.json + confusion_matrix.png, as ``evaluate --out``; asks before replacing."""
        from engine.export import EVALUATION_FILES, write_evaluation

        result = self.evaluation_result
        if result is None:
            self.report("Nothing to export yet: evaluate a labelled folder first", "info")
            return []
        if folder is None:
            folder = existing_folder(self, EXPORTS, "Export the evaluation into folder")
            if not folder:
                return []
        folder = Path(folder)
        existing = [folder / name for name in EVALUATION_FILES if (folder / name).exists()]
        if existing and not confirm_overwrite(self, existing):
            return []
        try:
            written = write_evaluation(folder, result)
        except (OSError, ValueError, EngineError) as exc:  # EngineError: a full disk, named
            self.report(f"Could not export the evaluation: {exc}", topic="export")
            return []
        remember_folder(EXPORTS, folder)
        self.statusBar().showMessage(f"Wrote {', '.join(p.name for p in written)} to {folder}", MESSAGE_MS)
        return written

    # ------------------------------------------------------------------ explaining from a cell

    def explain_files(self, paths) -> list:
        """Add these image files to the list (those already there are reused) and explain them."""
        paths = [Path(p) for p in paths]
        known = {e.path.resolve(): e for e in self.entries.values() if e.path is not None}
        fresh = [p for p in paths if p.resolve() not in known]
        added = self.add_paths(fresh) if fresh else []
        known.update({e.path.resolve(): e for e in added if e.path is not None})
        targets = [known[p.resolve()] for p in paths if p.resolve() in known]
        for entry in targets:
            if entry.status not in ("queued", "explaining"):
                self.explain(entry)
        if targets:
            self.image_list.select_key(targets[0].key)
            self.central_tabs.show_page("explanations")
        return targets
