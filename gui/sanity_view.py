"""The sanity check's window: the strip of maps as the model is randomised top-down, with
each step's rank correlation and SSIM, a progress bar and Cancel. It only shows; the run
belongs to the engine (engine.sanity through EngineController.submit_sanity)."""

from __future__ import annotations

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout

from engine.render import draw_message, draw_sanity

EXPLAINER = ("Each method runs again with the model's layers re-initialised, the head first, then "
             "deeper. A map that depends on what the model learnt changes (ρ, SSIM fall); one that "
             "stays similar (ρ > 0.5) with the whole network random does not depend on the model.")


class SanityView(QDialog):
    cancelRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("sanityView")
        self.setWindowTitle("Sanity check")
        self.resize(1100, 520)
        self.canvas = FigureCanvasQTAgg(Figure(figsize=(10.0, 4.4), dpi=100, facecolor="white"))
        self.canvas.setMinimumSize(480, 240)
        self.note = QLabel(EXPLAINER)
        self.note.setWordWrap(True)
        self.status = QLabel("")
        self.bar = QProgressBar()
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancelRequested)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.bar, 2)
        row.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(row)
        self.class_index: int | None = None

    def started(self, job, class_index: int, class_name: str) -> None:
        self.class_index = class_index
        methods = ", ".join(e.method for e in job.explanations)
        self.status.setText(f"Checking {methods} for “{class_name}”…")
        self.bar.setRange(0, 0)  # busy until the first count arrives
        self.cancel.setEnabled(True)
        draw_message(self.canvas.figure, "Randomising the model layer by layer…")
        self.canvas.draw_idle()

    def progress(self, job) -> None:
        if job.total > 0:
            self.bar.setRange(0, job.total)
            self.bar.setValue(min(job.done, job.total))
        self.status.setText(job.stage)

    def show_results(self, job) -> None:
        """Draw every method checked so far (called as each one finishes)."""
        if self.class_index is None or not job.results:
            return
        draw_sanity(self.canvas.figure, job.explanations, job.results, self.class_index)
        self.canvas.draw_idle()

    def ended(self, job) -> None:
        self.cancel.setEnabled(False)
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if job.state == "done" else 0)
        self.status.setText({"done": "Done: the weights are the model's own again",
                             "cancelled": "Cancelled: the weights are the model's own again",
                             }.get(job.state, f"Failed: {job.message}"))
