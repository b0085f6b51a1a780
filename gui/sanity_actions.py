"""Explain ▸ Sanity check: re-run the current image's methods on the model randomised
top-down (engine.sanity) on the engine thread, and show the strip of maps.

``SanityFeature`` owns the menu action, the strip's dialog and the finished checks, kept per
image so exporting the image's maps writes them too (as ``explain --sanity`` does). The
window composes it and routes the controller's sanity signals to its ``on_*`` methods.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMainWindow

from gui.menu_lookup import menu_named
from gui.sanity_view import SanityView

SANITY_SHORTCUT = "Ctrl+Shift+Y"
SANITY_METHODS = ("shap", "lime", "gradcam", "ig")  # shap-gradient's background is not kept
MESSAGE_MS = 10_000


class SanityFeature:
    """The sanity check, from its menu action to its dialog.

    ``window`` is used only as the dialog's parent, for the Explain menu and for the status
    bar; ``make_action(text, slot, shortcut, tip)`` makes a window action (shortcut live even
    with the menu bar hidden).
    """

    def __init__(self, window: QMainWindow, controller, results_view, *, current_entry: Callable,
                 report: Callable, update_actions: Callable, make_action: Callable) -> None:
        self._window = window
        self._controller = controller
        self._results_view = results_view
        self._current_entry = current_entry
        self._report = report
        self._update_actions = update_actions
        self.view: SanityView | None = None  # made on the first check
        # image key -> method -> (the explanation checked, engine.sanity.sanity_check result)
        self._done: dict[int, dict[str, tuple]] = {}
        self.action = make_action("Sanity chec&k", self.check, SANITY_SHORTCUT,
                                  "Re-run the current image's methods with the model's "
                                  "layers randomised, head first: does each map depend on the model?")
        explain_menu = menu_named(window, "E&xplain")
        explain_menu.addSeparator()
        explain_menu.addAction(self.action)

    def refresh_action(self, has_results: bool) -> None:
        """One check at a time, and only of an image with explanations."""
        self.action.setEnabled(has_results and self._controller.sanity is None)

    def results_for(self, entry) -> dict[str, dict]:
        """Method -> sanity-check result for the entry's current explanations; a check of a
        map that has since been replaced (explained again) is not the new map's."""
        done = self._done.get(entry.key, {})
        return {method: result for method, (checked, result) in done.items()
                if entry.results.get(method) is checked}

    def check(self, groups: int = 5):
        """Check the methods shown for the current image and class; returns the SanityJob."""
        entry = self._current_entry()
        canvas = self._results_view.current_canvas()
        explanations = [e for m, e in (entry.results.items() if entry is not None else [])
                        if m in SANITY_METHODS]
        class_index = getattr(canvas, "class_index", None)
        if not explanations or class_index is None:
            self._report("Explain an image first: the sanity check re-runs its methods", "info")
            return None
        explanations = [e for e in explanations if class_index in e.classes]
        job = self._controller.submit_sanity(entry.key, explanations, groups)
        view = self._sanity_view()
        first = explanations[0]
        view.started(job, class_index, first.class_names[first.index_of(class_index)])
        view.show()
        view.raise_()
        self._update_actions()
        return job

    # ------------------------------------------------------------------ controller signals

    def on_progress(self, job) -> None:
        self._sanity_view().progress(job)

    def on_method_ready(self, job, method: str) -> None:
        checked = next((e for e in job.explanations if e.method == method), None)
        if checked is not None and method in job.results:
            self._done.setdefault(job.image_key, {})[method] = (checked, job.results[method])
        self._sanity_view().show_results(job)

    def on_finished(self, job) -> None:
        view = self._sanity_view()
        view.ended(job)
        if job.state == "failed":
            self._report(f"Sanity check: {job.message}", topic="sanity")
        elif job.state == "done":
            flagged = [m for m, r in job.results.items()
                       if r["does_not_depend_on_model"][r["classes"].index(view.class_index)]]
            self._window.statusBar().showMessage(
                f"Sanity check done: {', '.join(flagged)} does not depend on the model" if flagged
                else "Sanity check done: every map changes when the model is randomised", MESSAGE_MS)
        self._update_actions()

    def _sanity_view(self) -> SanityView:
        if self.view is None:
            self.view = SanityView(self._window)
            self.view.cancelRequested.connect(self._controller.cancel_sanity)
        return self.view
