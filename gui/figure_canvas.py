"""A Qt canvas that owns its own matplotlib ``Figure`` (never pyplot) and draws one class.

Drawing is split in two on purpose: the figure is (re)built with ``engine.render.draw_class``
only when the canvas is visible, and the pixels are rendered on the next idle turn of the
event loop. Hidden tabs cost nothing until someone looks at them, and one update never holds
the GUI thread for long while a job is running.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QTimer, Signal

from engine.render import (
    LimeView,
    class_curves,
    class_scores,
    class_stability,
    draw_class,
    draw_comparison,
    draw_message,
)

VIEW_MODES = ("side", "compare")  # "Side by side" (draw_class) | "Compare" (draw_comparison)


class ExplanationCanvas(FigureCanvasQTAgg):
    rendered = Signal()  # pixels are up to date (after each render)

    def __init__(self, parent=None) -> None:
        super().__init__(Figure(figsize=(9.0, 4.6), dpi=100, facecolor="white"))
        if parent is not None:
            self.setParent(parent)
        self.setMinimumSize(360, 240)
        self.render_count = 0  # how many times pixels were rendered (tests look at it)
        self.class_index: int | None = None
        self._content: tuple[list, int, LimeView | None] | None = None
        self._metrics: dict = {}  # method -> engine.metrics.faithfulness dict
        self._stability: dict = {}  # method -> engine.stability.rerun_stability dict
        self.mode = "side"
        self._dirty = False
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(5)
        self._render_timer.timeout.connect(self._render_if_stale)
        self._stale_pixels = False

    def set_content(self, explanations: list, class_index: int, lime_view: LimeView | None,
                    metrics: dict | None = None, stability: dict | None = None) -> None:
        self.class_index = class_index
        self._metrics = dict(metrics or {})
        self._stability = dict(stability or {})
        self._content = (list(explanations), class_index, lime_view)
        self._dirty = True
        if self.isVisible():
            self._rebuild()

    def set_lime_view(self, lime_view: LimeView) -> None:
        if self._content is None or not any(e.method == "lime" for e in self._content[0]):
            return
        if self.mode == "compare":  # the comparison draws LIME's weights, not the view
            self._content = (self._content[0], self._content[1], lime_view)
            return
        self.set_content(self._content[0], self._content[1], lime_view, self._metrics, self._stability)

    def set_mode(self, mode: str) -> None:
        """Side by side (each method on its own scale) or Compare (one scale, tables)."""
        if mode not in VIEW_MODES:
            raise ValueError(f"unknown view {mode!r}")
        if mode == self.mode:
            return
        self.mode = mode
        if self._content is not None:
            self._dirty = True
            if self.isVisible():
                self._rebuild()

    def show_message(self, message: str) -> None:
        self._content = None
        self._dirty = False
        draw_message(self.figure, message)
        self.draw_idle()

    @property
    def explanations(self) -> list:
        return list(self._content[0]) if self._content else []

    def ensure_built(self) -> None:
        """Build the figure now even if hidden (export and screenshots need it)."""
        if self._dirty and self._content is not None:
            self._rebuild()

    def _rebuild(self) -> None:
        explanations, class_index, lime_view = self._content
        if self.mode == "compare":
            draw_comparison(self.figure, explanations, class_index, self._metrics, self._stability)
        else:
            draw_class(self.figure, explanations, class_index, lime_view,
                       scores=class_scores(self._metrics, class_index) or None,
                       stability=class_stability(self._stability, class_index) or None,
                       curves=class_curves(self._metrics, class_index) or None)
        self._dirty = False
        self._stale_pixels = True
        # Render a turn later, so timers and input get in between building and rendering.
        self._render_timer.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().showEvent(event)
        if self._dirty and self._content is not None:
            self._rebuild()

    def _render_if_stale(self) -> None:
        # A resize may already have rendered the new figure: one render per update is enough.
        if self._stale_pixels:
            self.draw_idle()

    @property
    def render_pending(self) -> bool:
        """True while the canvas is visible and its newest content is not rendered yet."""
        return self.isVisible() and (self._dirty or self._stale_pixels)

    def draw(self) -> None:
        self._stale_pixels = False
        super().draw()
        self.render_count += 1
        self.rendered.emit()

    def rendered_pixels(self) -> np.ndarray:
        """The last rendered RGBA buffer (H, W, 4); empty before the first render."""
        if self.render_count == 0:
            return np.zeros((0, 0, 4), np.uint8)
        return np.asarray(self.buffer_rgba())


def warm_up_drawing() -> None:
    """Draw a throw-away figure once, off-screen.

    The first figure a process draws loads fonts and fills matplotlib's caches (a few hundred
    ms). Done at start-up, that cost does not land in the GUI thread while a job is running
    and its first result arrives. LIME views use scikit-image's boundary marking: import it too.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    import skimage.segmentation  # noqa: F401 - imported for its side effect (loaded once)

    figure = Figure(figsize=(3, 2), dpi=50)
    FigureCanvasAgg(figure)
    figure.set_layout_engine("constrained")
    figure.suptitle("warm-up")
    axes = figure.subplots(1, 2)
    image = axes[0].imshow(np.zeros((4, 4)), vmin=-1, vmax=1)
    axes[0].set_title("a")
    axes[1].text(0.5, 0.5, "b")
    figure.colorbar(image, ax=axes[0], orientation="horizontal", label="value")
    figure.canvas.draw()
