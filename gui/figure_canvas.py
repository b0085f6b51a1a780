"""A Qt canvas that owns its own matplotlib ``Figure`` (never pyplot) and draws one class.

The figure is (re)built with ``engine.render.draw_class`` only when the canvas is visible,
and both building and rendering run on the drawing thread (``gui.background_drawing``): the
GUI thread only paints the finished pixels, so a big figure never stalls the window. Hidden
tabs cost nothing until someone looks at them.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QEvent, QRect, Signal
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QToolTip

from gui import background_drawing

from engine.render import (
    EARLIER_MARK,
    LimeView,
    class_curves,
    class_scores,
    class_stability,
    draw_class,
    draw_comparison,
    draw_message,
    method_title,
)

VIEW_MODES = ("side", "compare")  # "Side by side" (draw_class) | "Compare" (draw_comparison)


def earlier_tooltip(method: str, differences: list[str]) -> str:
    """What a result made with earlier settings was made with, against the latest request."""
    return (f"{method_title(method)} — made with {EARLIER_MARK} (this map → the latest Explain):\n"
            + "\n".join(f"  {line}" for line in differences))


class ExplanationCanvas(FigureCanvasQTAgg):
    rendered = Signal()  # pixels are up to date (after each render)
    _frameReady = Signal(object, int)  # (RGBA array, request number), from the drawing thread

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
        self.earlier: dict[str, list[str]] = {}  # method -> how its settings differ from the latest
        self.mode = "side"
        self._dirty = False
        self._stale_pixels = False
        # Drawing-thread state: the lock is held while that thread touches the figure.
        self._figure_lock = threading.Lock()
        self._requests = 0  # numbered draw requests: only the newest frame is kept
        self._frame: np.ndarray | None = None  # the newest rendered RGBA pixels
        self.gui_thread_ms: list[float] = []  # GUI-thread time of each paint (benchmarks read it)
        self._resized_hidden = False  # resized while hidden: render when shown
        self._frameReady.connect(self._on_frame)

    def set_content(self, explanations: list, class_index: int, lime_view: LimeView | None,
                    metrics: dict | None = None, stability: dict | None = None,
                    earlier: dict[str, list[str]] | None = None) -> None:
        """``earlier``: methods whose result was made with earlier settings, and what differs
        (their titles say so; hovering one lists the differences)."""
        self.class_index = class_index
        self._metrics = dict(metrics or {})
        self._stability = dict(stability or {})
        self.earlier = dict(earlier or {})
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
        self.set_content(self._content[0], self._content[1], lime_view, self._metrics, self._stability,
                         self.earlier)

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

    @property
    def explanations(self) -> list:
        return list(self._content[0]) if self._content else []

    @contextmanager
    def figure_in_hand(self):
        """The figure, with the drawing thread kept off it (for saving it from this thread)."""
        with self._figure_lock:
            yield self.figure

    def ensure_built(self) -> None:
        """Build the figure now, on this thread, even if hidden (export and screenshots need
        it); waits for a drawing in progress first."""
        with self._figure_lock:
            if self._dirty and self._content is not None:
                self._fit_figure()
                self._build(self._content, self.mode, self._metrics, self._stability, set(self.earlier))
                self._dirty = False
                self._stale_pixels = True

    def show_message(self, message: str) -> None:
        self._content = None
        self._dirty = False
        with self._figure_lock:  # one line of text: cheap to build here
            draw_message(self.figure, message)
        self._request_frame()

    def _rebuild(self) -> None:
        self._dirty = False
        self._stale_pixels = True
        self._request_frame(rebuild=(self._content, self.mode, self._metrics, self._stability,
                                     set(self.earlier)))

    def _build(self, content, mode, metrics, stability, earlier) -> None:
        """Draw the figure's artists (on the drawing thread, or under the lock)."""
        explanations, class_index, lime_view = content
        if mode == "compare":
            draw_comparison(self.figure, explanations, class_index, metrics, stability, earlier=earlier)
        else:
            draw_class(self.figure, explanations, class_index, lime_view,
                       scores=class_scores(metrics, class_index) or None,
                       stability=class_stability(stability, class_index) or None,
                       curves=class_curves(metrics, class_index) or None, earlier=earlier)

    def earlier_method_at(self, x: float, y: float) -> str | None:
        """The method made with earlier settings whose panel (or the title above it) is at
        widget point (x, y); None elsewhere, or while the drawing thread holds the figure."""
        found = self._earlier_panel_at(x, y)
        return found[0] if found else None

    def _earlier_panel_at(self, x: float, y: float) -> tuple[str, QRect] | None:
        if not self.earlier or not self._figure_lock.acquire(blocking=False):
            return None
        try:
            width, height = max(1, self.width()), max(1, self.height())
            fx, fy = x / width, 1.0 - y / height
            for ax in self.figure.axes:
                gid = ax.title.get_gid() or ""
                box = ax.get_position()
                if gid.startswith("earlier-settings:") and box.x0 <= fx <= box.x1 and fy >= box.y0:
                    column = QRect(round(box.x0 * width), 0, round(box.width * width), round((1 - box.y0) * height))
                    return gid.split(":", 1)[1], column
            return None
        finally:
            self._figure_lock.release()

    def event(self, event) -> bool:
        # Over a result made with earlier settings: what differs, for as long as the mouse
        # stays over that panel's column.
        if event.type() == QEvent.Type.ToolTip:
            found = self._earlier_panel_at(event.pos().x(), event.pos().y())
            if found is not None and found[0] in self.earlier:
                method, column = found
                QToolTip.showText(event.globalPos(), earlier_tooltip(method, self.earlier[method]), self, column)
                return True
        return super().event(event)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().showEvent(event)
        if self._dirty and self._content is not None:
            self._rebuild()
        elif self._resized_hidden or self._frame is None:
            self._request_frame()
        self._resized_hidden = False

    @property
    def render_pending(self) -> bool:
        """True while the canvas is visible and its newest content is not rendered yet."""
        return self.isVisible() and (self._dirty or self._stale_pixels)

    # ------------------------------------------------------------------ drawing thread

    def draw(self) -> None:
        """Render now, on this thread (screenshots, exports): waits for the drawing thread."""
        with self._figure_lock:
            self._fit_figure()
            FigureCanvasAgg.draw(self)
            frame = np.array(self.buffer_rgba(), copy=True)
        self._requests += 1
        self._on_frame(frame, self._requests)

    def draw_idle(self) -> None:
        self._request_frame()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        # Qt's version resizes the figure here and renders it: both belong to the drawing thread.
        from PySide6.QtWidgets import QWidget

        QWidget.resizeEvent(self, event)
        if self.isVisible():
            # Rebuilt, not only re-rendered: what fits depends on the size (see draw_class).
            if self._content is not None:
                self._rebuild()
            else:
                self._request_frame()
        else:
            self._resized_hidden = True

    def _fit_figure(self) -> None:
        ratio = self.device_pixel_ratio or 1
        width, height = max(1, self.width()) * ratio, max(1, self.height()) * ratio
        dpi = self.figure.dpi
        self.figure.set_size_inches(width / dpi, height / dpi, forward=False)

    def _request_frame(self, rebuild=None) -> None:
        self._requests += 1
        number = self._requests
        size = (self.width(), self.height(), self.device_pixel_ratio or 1)

        def task():
            with self._figure_lock:
                # Sized first: what the figure holds depends on its size (a short one leaves
                # the curve plots out), and its layout is worked out for that size.
                width, height, ratio = size
                self.figure.set_size_inches(max(1, width) * ratio / self.figure.dpi,
                                            max(1, height) * ratio / self.figure.dpi, forward=False)
                if rebuild is not None:
                    self._build(*rebuild)
                if number != self._requests:
                    return  # a newer request will render
                FigureCanvasAgg.draw(self)
                frame = np.array(self.buffer_rgba(), copy=True)
            self._frameReady.emit(frame, number)

        background_drawing.submit(task)

    def _on_frame(self, frame: np.ndarray, number: int) -> None:
        if number != self._requests:
            return  # stale: a newer frame is on its way
        self._frame = frame
        self._stale_pixels = False
        self.update()
        self.render_count += 1
        self.rendered.emit()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt naming
        started = time.perf_counter()
        painter = QPainter(self)
        try:
            frame = self._frame
            painter.fillRect(self.rect(), self.palette().window())
            if frame is not None:
                height, width = frame.shape[:2]
                image = QImage(frame.data, width, height, frame.strides[0], QImage.Format.Format_RGBA8888)
                image.setDevicePixelRatio(self.device_pixel_ratio or 1)
                painter.drawImage(QRect(0, 0, round(width / (self.device_pixel_ratio or 1)),
                                        round(height / (self.device_pixel_ratio or 1))), image)
        finally:
            painter.end()
        self.gui_thread_ms.append((time.perf_counter() - started) * 1000)

    def rendered_pixels(self) -> np.ndarray:
        """The last rendered RGBA pixels (H, W, 4); empty before the first render."""
        if self._frame is None:
            return np.zeros((0, 0, 4), np.uint8)
        return self._frame


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
