"""The results area: one tab per explained class for the current image.

Each image keeps its own tab widget for the whole session (in a stack), so going back to
an image shows its finished tabs instantly: nothing is recomputed or even redrawn.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QStackedWidget, QTabWidget

from engine.render import EARLIER_MARK, METHOD_TITLES, LimeView
from gui.comparison_toggle import ViewToggle
from gui.elided_label import ElidedLabel
from gui.figure_canvas import VIEW_MODES, ExplanationCanvas, earlier_tooltip
from gui.image_entry import ImageEntry

TAB_TITLE_CHARS = 28


class ResultsView(QStackedWidget):
    modeChanged = Signal(str)  # "side" | "compare" (see gui.comparison_toggle)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.mode = "side"
        self.setObjectName("resultsView")
        self.placeholder = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setObjectName("resultsPlaceholder")
        self.placeholder.setWordWrap(True)
        self.placeholder.setMargin(40)
        self.placeholder.setStyleSheet("color: #666; font-size: 15px;")
        self.addWidget(self.placeholder)
        self._tabs: dict[int, QTabWidget] = {}
        self._summaries: dict[int, tuple[str, str]] = {}  # key -> (line, its tooltip)
        # Timings go on their own line under the tabs (the window places it): on the tab row
        # they left room for only one class tab.
        self.summary_label = ElidedLabel()
        self.summary_label.setObjectName("resultSummary")
        self.summary_label.setStyleSheet("color: #555; padding: 0 8px;")
        self.lime_view = LimeView()
        self.show_entry(None)

    # ------------------------------------------------------------------ showing

    def show_entry(self, entry: ImageEntry | None) -> None:
        tabs = self._tabs.get(entry.key) if entry is not None else None
        text, tip = self._summaries.get(entry.key, ("", "")) if tabs is not None else ("", "")
        self.summary_label.setText(text)
        self.summary_label.setToolTip(text + (f"\n\n{tip}" if tip else ""))
        if tabs is not None and tabs.count():
            self.setCurrentWidget(tabs)
            return
        self.placeholder.setText(_placeholder_text(entry))
        self.setCurrentWidget(self.placeholder)

    def update_entry(self, entry: ImageEntry, show: bool) -> None:
        """Make the entry's tabs match its results: one tab per class, in the model's order."""
        explanations = entry.explanations
        earlier = entry.earlier_settings()
        classes: list[int] = []
        for explanation in explanations:
            classes += [c for c in explanation.classes if c not in classes]
        tabs = self._tabs.get(entry.key)
        if tabs is None:
            if not classes:
                return
            tabs = self._new_tabs()
            self._tabs[entry.key] = tabs
            self.addWidget(tabs)
        # Drop tabs for classes no longer explained, then add or refresh the rest in order.
        for index in reversed(range(tabs.count())):
            if tabs.widget(index).class_index not in classes:
                tabs.removeTab(index)
        for position, class_index in enumerate(classes):
            canvas = self._canvas_for(tabs, class_index)
            if canvas is None:
                canvas = ExplanationCanvas()
                canvas.set_mode(self.mode)
                tabs.insertTab(position, canvas, "")
            source = next(e for e in explanations if class_index in e.classes)
            k = source.index_of(class_index)
            name = source.class_names[k]
            tabs.setTabText(tabs.indexOf(canvas), _elide(name))
            tabs.setTabToolTip(tabs.indexOf(canvas),
                               f"{name} — p = {source.probabilities[k]:.3f} (class {class_index})")
            canvas.set_content(explanations, class_index, self.lime_view, entry.metrics, entry.stability,
                               earlier)
        self._summaries[entry.key] = (_summary(explanations, earlier), _earlier_text(earlier))
        if show:
            self.show_entry(entry)

    def remove_entry(self, key: int) -> None:
        tabs = self._tabs.pop(key, None)
        if tabs is not None:
            self.removeWidget(tabs)
            tabs.deleteLater()
        self._summaries.pop(key, None)

    def set_lime_view(self, view: LimeView) -> None:
        """Redraw LIME panels in the new view; nothing is recomputed."""
        self.lime_view = view
        for tabs in self._tabs.values():
            for index in range(tabs.count()):
                tabs.widget(index).set_lime_view(view)

    def set_mode(self, mode: str) -> None:
        """Side by side or Compare, for every tab of every image (hidden ones draw later)."""
        if mode not in VIEW_MODES:
            raise ValueError(f"unknown view {mode!r}")
        changed = mode != self.mode
        self.mode = mode
        for tabs in self._tabs.values():
            tabs.cornerWidget(Qt.Corner.TopLeftCorner).set_mode(mode)
            for index in range(tabs.count()):
                tabs.widget(index).set_mode(mode)
        if changed:
            self.modeChanged.emit(mode)

    # ------------------------------------------------------------------ queries

    def tabs_for(self, key: int) -> QTabWidget | None:
        return self._tabs.get(key)

    def current_tabs(self) -> QTabWidget | None:
        widget = self.currentWidget()
        return widget if isinstance(widget, QTabWidget) else None

    def current_canvas(self) -> ExplanationCanvas | None:
        tabs = self.current_tabs()
        return tabs.currentWidget() if tabs is not None else None

    def step_tab(self, step: int) -> None:
        tabs = self.current_tabs()
        if tabs is not None and tabs.count():
            tabs.setCurrentIndex((tabs.currentIndex() + step) % tabs.count())

    # ------------------------------------------------------------------ helpers

    def _new_tabs(self) -> QTabWidget:
        tabs = QTabWidget()
        tabs.setObjectName("classTabs")
        tabs.setDocumentMode(True)
        tabs.setUsesScrollButtons(True)
        toggle = ViewToggle(self.mode)
        toggle.modeChanged.connect(self.set_mode)
        tabs.setCornerWidget(toggle, Qt.Corner.TopLeftCorner)
        return tabs

    @staticmethod
    def _canvas_for(tabs: QTabWidget, class_index: int) -> ExplanationCanvas | None:
        for index in range(tabs.count()):
            if tabs.widget(index).class_index == class_index:
                return tabs.widget(index)
        return None


def _placeholder_text(entry: ImageEntry | None) -> str:
    if entry is None:
        return ("Drop photos or a folder here to begin.\n\n"
                "Each explained class gets its own tab, with SHAP and LIME side by side\n"
                "(and a quick Grad-CAM preview as soon as the predictions are in).")
    if entry.status == "explaining":
        return f"Explaining {entry.name}…\n\nThe tabs appear as soon as the first method finishes."
    if entry.status == "queued":
        return f"{entry.name} is waiting in the queue."
    if entry.status == "failed":
        return f"Explaining {entry.name} failed:\n{entry.error}\n\nChange the settings and press Explain to try again."
    if entry.status == "cancelled":
        return f"Explaining {entry.name} was cancelled.\n\nPress Explain (Ctrl+E) to start again."
    return f"Press Explain (Ctrl+E) to see why the model chose its top classes for {entry.name}."


def _summary(explanations: list, earlier: dict | None = None) -> str:
    parts = []
    for e in explanations:
        seconds = e.timings.get("explain_s", 0.0)
        evaluations = e.timings.get("model_evaluations", 0)
        title = METHOD_TITLES.get(e.method, e.method)
        if e.params.get("explainer"):  # background-set SHAP says which shap explainer ran
            title += f" with {e.params['explainer']}"
        if e.method in (earlier or {}):
            title += f" ({EARLIER_MARK})"
        stored = e.timings.get("stored_at")
        if stored is not None:  # reused from the result store: say when it was computed
            parts.append(f"{title}: stored {time.strftime('%Y-%m-%d %H:%M', time.localtime(stored))}")
        else:
            parts.append(f"{title}: {evaluations} evals, {seconds:.1f} s")
    return "   ·   ".join(parts)


def _earlier_text(earlier: dict) -> str:
    """The summary's tooltip when some results were made with earlier settings."""
    return "\n\n".join(earlier_tooltip(method, lines) for method, lines in earlier.items())


def _elide(text: str) -> str:
    return text if len(text) <= TAB_TITLE_CHARS else text[: TAB_TITLE_CHARS - 1] + "…"
