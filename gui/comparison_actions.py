"""The window's side of "which explanation to trust": the Compare view switch, stability
results, and what a job asks for beyond its methods (stability re-runs, scoring the preview).

A mixin of ``MainWindow`` (like ``WindowChrome``): it uses the window's ``results_view``,
``controller``, ``entries`` and helpers.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence

from gui.settings_store import COMPARE_METHODS

COMPARE_SHORTCUT = "Ctrl+Shift+M"


class ComparisonActions:
    def _compare_action(self) -> QAction:
        """View ▸ Compare methods: the checkable twin of the tabs' "Compare" button."""
        action = QAction("&Compare methods", self)
        action.setCheckable(True)
        action.setShortcut(QKeySequence(COMPARE_SHORTCUT))
        action.setStatusTip("Every method for the class on one colour scale, with their "
                            "agreement and faithfulness")
        action.setToolTip(f"{action.statusTip()} ({COMPARE_SHORTCUT})")
        action.toggled.connect(lambda on: self.results_view.set_mode("compare" if on else "side"))
        self.addAction(action)
        return action

    def _connect_comparison(self) -> None:
        self.controller.stabilityReady.connect(self._on_stability)
        self.results_view.modeChanged.connect(self._on_view_mode)

    def _on_view_mode(self, mode: str) -> None:
        self.compare_action.blockSignals(True)
        self.compare_action.setChecked(mode == "compare")
        self.compare_action.blockSignals(False)

    def trust_options(self, settings, entry) -> dict:
        """``EngineController.submit`` keywords for stability re-runs and preview scoring."""
        if settings.methods == COMPARE_METHODS:
            # "All methods (compare)": the person wants the comparison, show it.
            self.results_view.set_mode("compare")
        # A preview still on its way is scored too, if it arrives before the job starts;
        # only one already on screen is counted in the job's plan.
        return {"stability_runs": settings.stability_runs,
                "score_preview": tuple(m for m in ("gradcam", "ig") if m in entry.results)}

    def _on_stability(self, job, method: str, result: dict) -> None:
        self._add_to_result(job, method, "stability", result)
