"""The window's side of "which explanation to trust": the Compare view switch, stability
results, and what a job asks for beyond its methods (stability re-runs, scoring the preview).

``ComparisonFeature`` owns View ▸ Compare methods and keeps it in step with the results
view's own switch; the window composes it and routes the controller's stability results
to ``on_stability``.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

from gui.settings_store import COMPARE_METHODS

COMPARE_SHORTCUT = "Ctrl+Shift+M"


class ComparisonFeature:
    """The Compare view switch and the trust options of a job.

    ``window`` only parents the action (and takes its shortcut, live with the menu bar
    hidden); ``add_to_result(job, method, kind, value)`` keeps a result's extra and redraws.
    """

    def __init__(self, window: QMainWindow, results_view, *, add_to_result: Callable) -> None:
        self._results_view = results_view
        self._add_to_result = add_to_result
        # View ▸ Compare methods: the checkable twin of the tabs' "Compare" button.
        self.action = QAction("&Compare methods", window)
        self.action.setCheckable(True)
        self.action.setShortcut(QKeySequence(COMPARE_SHORTCUT))
        self.action.setStatusTip("Every method for the class on one colour scale, with their "
                                 "agreement and faithfulness")
        self.action.setToolTip(f"{self.action.statusTip()} ({COMPARE_SHORTCUT})")
        self.action.toggled.connect(lambda on: results_view.set_mode("compare" if on else "side"))
        window.addAction(self.action)
        results_view.modeChanged.connect(self._on_view_mode)

    def _on_view_mode(self, mode: str) -> None:
        self.action.blockSignals(True)  # following the view, not asking it to switch again
        self.action.setChecked(mode == "compare")
        self.action.blockSignals(False)

    def trust_options(self, settings, entry) -> dict:
        """``EngineController.submit`` keywords for stability re-runs and preview scoring."""
        if settings.methods == COMPARE_METHODS:
            # "All methods (compare)": the person wants the comparison, show it.
            self._results_view.set_mode("compare")
        # A preview still on its way is scored too, if it arrives before the job starts;
        # only one already on screen is counted in the job's plan.
        return {"stability_runs": settings.stability_runs,
                "score_preview": tuple(m for m in ("gradcam", "ig") if m in entry.results)}

    def on_stability(self, job, method: str, result: dict) -> None:
        self._add_to_result(job, method, "stability", result)
