"""``--screenshot FILE``: wait until the window has nothing left to do, save it, quit.

"Nothing left" means: the model has loaded (and its explainers are warmed up), every image
has its predictions (or an error), and every job and preview that was started has ended. Then the current tab is rendered, the whole
window is grabbed to a PNG, and the app exits 0 — or non-zero with one line on stderr when
the model failed to load or the file could not be written.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from gui.main_window import MainWindow

TIMEOUT_MS = 20 * 60 * 1000  # a stuck run must end, not hang a script forever


class ScreenshotWhenIdle(QObject):
    def __init__(self, window: MainWindow, path: Path) -> None:
        super().__init__(window)
        self.window = window
        self.path = Path(path)
        self.exit_code: int | None = None
        c = window.controller
        for signal in (c.modelReady, c.modelFailed, c.preparing, c.predictionsReady,
                       c.predictionFailed, c.jobFinished, c.queueChanged, c.previewEnded):
            signal.connect(self._check)
        QTimer.singleShot(TIMEOUT_MS, self._timed_out)
        QTimer.singleShot(0, self._check)

    def _check(self, *_) -> None:
        if self.exit_code is not None:
            return
        c = self.window.controller
        if c.model_state == "failed":
            message = c.model_failure.message if c.model_failure else "unknown error"
            self._finish(1, f"error: the model could not be loaded: {message}")
            return
        waiting_for_predictions = any(e.predictions is None and e.prediction_error is None
                                      for e in self.window.entries.values())
        if (c.model_state != "ready" or c.warming_up or c.busy or c.previews_pending
                or waiting_for_predictions):
            return
        self.exit_code = -1  # taken; the grab happens after pending drawing events
        QTimer.singleShot(50, self._grab)

    def _grab(self) -> None:
        canvas = self.window.results_view.current_canvas()
        if canvas is not None:
            canvas.ensure_built()
            canvas.draw()
        QApplication.processEvents()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            saved = self.window.grab().save(str(self.path), "PNG")
        except OSError:
            saved = False
        if saved:
            self._finish(0)
        else:
            self._finish(1, f"error: cannot save the screenshot to {self.path}")

    def _timed_out(self) -> None:
        if self.exit_code is None:
            self._finish(1, "error: gave up waiting for the jobs to finish")

    def _finish(self, code: int, message: str = "") -> None:
        self.exit_code = code
        if message:
            print(message, file=sys.stderr)
        self.window.close()
        QApplication.instance().exit(code)
