"""Explain ▸ Sanity check: re-run the current image's methods on the model randomised
top-down (engine.sanity) on the engine thread, and show the strip of maps.

A mixin of ``MainWindow``: it uses the window's ``controller``, ``results_view``,
``current_entry`` and ``report``. Finished checks are kept per image, so exporting the
image's maps writes them too (as ``explain --sanity`` does).
"""

from __future__ import annotations

from gui.menu_lookup import menu_named
from gui.sanity_view import SanityView

SANITY_SHORTCUT = "Ctrl+Shift+Y"
SANITY_METHODS = ("shap", "lime", "gradcam", "ig")  # shap-gradient's background is not kept
MESSAGE_MS = 10_000


class SanityActions:
    sanity_view: SanityView | None = None
    # image key -> method -> (the explanation checked, engine.sanity.sanity_check result)
    _sanity_done: dict[int, dict[str, tuple]]

    def _build_sanity_action(self) -> None:
        self.sanity_action = self._action("Sanity chec&k", self.sanity_check, SANITY_SHORTCUT,
                                          "Re-run the current image's methods with the model's "
                                          "layers randomised, head first: does each map depend on the model?")
        explain_menu = menu_named(self, "E&xplain")
        explain_menu.addSeparator()
        explain_menu.addAction(self.sanity_action)

    def _connect_sanity(self) -> None:
        self._sanity_done = {}
        c = self.controller
        c.sanityProgress.connect(lambda job: self._sanity_view().progress(job))
        c.sanityMethodReady.connect(self._on_sanity_method)
        c.sanityFinished.connect(self._on_sanity_finished)

    def _on_sanity_method(self, job, method: str) -> None:
        checked = next((e for e in job.explanations if e.method == method), None)
        if checked is not None and method in job.results:
            self._sanity_done.setdefault(job.image_key, {})[method] = (checked, job.results[method])
        self._sanity_view().show_results(job)

    def sanity_results(self, entry) -> dict[str, dict]:
        """Method -> sanity-check result for the entry's current explanations; a check of a
        map that has since been replaced (explained again) is not the new map's."""
        done = self._sanity_done.get(entry.key, {})
        return {method: result for method, (checked, result) in done.items()
                if entry.results.get(method) is checked}

    def _sanity_view(self) -> SanityView:
        if self.sanity_view is None:
            self.sanity_view = SanityView(self)
            self.sanity_view.cancelRequested.connect(self.controller.cancel_sanity)
        return self.sanity_view

    def sanity_check(self, groups: int = 5):
        """Check the methods shown for the current image and class; returns the SanityJob."""
        entry = self.current_entry()
        canvas = self.results_view.current_canvas()
        explanations = [e for m, e in (entry.results.items() if entry is not None else [])
                        if m in SANITY_METHODS]
        class_index = getattr(canvas, "class_index", None)
        if not explanations or class_index is None:
            self.report("Explain an image first: the sanity check re-runs its methods", "info")
            return None
        explanations = [e for e in explanations if class_index in e.classes]
        job = self.controller.submit_sanity(entry.key, explanations, groups)
        view = self._sanity_view()
        first = explanations[0]
        view.started(job, class_index, first.class_names[first.index_of(class_index)])
        view.show()
        view.raise_()
        self._update_actions()
        return job

    def _on_sanity_finished(self, job) -> None:
        view = self._sanity_view()
        view.ended(job)
        if job.state == "failed":
            self.report(f"Sanity check: {job.message}", topic="sanity")
        elif job.state == "done":
            flagged = [m for m, r in job.results.items()
                       if r["does_not_depend_on_model"][r["classes"].index(view.class_index)]]
            self.statusBar().showMessage(
                f"Sanity check done: {', '.join(flagged)} does not depend on the model" if flagged
                else "Sanity check done: every map changes when the model is randomised", MESSAGE_MS)
        self._update_actions()
