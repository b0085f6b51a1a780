"""The Evaluation tab: accuracy, per-class precision and recall, the confusion matrix, and
the images of the chosen cell, ready to be explained.

It only shows what it is given (``engine.evaluate.EvaluationResult``) and says what the
person asked for through signals; the window runs the evaluation and the explanations.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.evaluation_canvas import ConfusionMatrixCanvas
from gui.evaluation_job import EvaluationJob

THUMBNAIL = QSize(44, 44)
THUMBNAILS_PER_TICK = 12  # reading thumbnails in small bites keeps the window responsive
PATH_ROLE = Qt.ItemDataRole.UserRole


def files_in_cell(result, true_class: int, predicted_class: int) -> list[str]:
    """The evaluated images of true class ``true_class`` that were predicted ``predicted_class``."""
    true = np.asarray(result.true_classes)
    predicted = np.asarray(result.predicted_classes)
    picked = np.flatnonzero((true == true_class) & (predicted == predicted_class))
    return [result.files[i] for i in picked]


class EvaluationView(QWidget):
    evaluateRequested = Signal()  # choose a folder and evaluate it
    cancelRequested = Signal()
    exportRequested = Signal()
    explainRequested = Signal(list)  # image paths to add to the list and explain

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("evaluationView")
        self.result = None
        self._pending_thumbnails: list[QListWidgetItem] = []
        self._build()
        self.show_result(None)

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        self.evaluate_button = QPushButton("Evaluate folder…")
        self.evaluate_button.setObjectName("evaluateFolderButton")
        self.evaluate_button.setToolTip("Predict every image of a folder with one sub-folder per class "
                                        "(named after the model's classes) (Ctrl+Shift+L)")
        self.evaluate_button.clicked.connect(self.evaluateRequested)
        self.folder_label = QLabel()
        self.folder_label.setObjectName("evaluationFolder")
        self.folder_label.setStyleSheet("color: #555;")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.setObjectName("evaluationProgress")
        self.progress.setFormat("%v / %m images")
        self.progress.setMinimumWidth(220)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelEvaluationButton")
        self.cancel_button.setToolTip("Stop the evaluation (Esc); it stops within one model batch")
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.cancel_button.hide()
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("exportEvaluationButton")
        self.export_button.setToolTip("Write metrics.json and confusion_matrix.png into a folder, "
                                      "as the command line's evaluate --out does")
        self.export_button.clicked.connect(self.exportRequested)
        top = QHBoxLayout()
        top.addWidget(self.evaluate_button)
        top.addWidget(self.folder_label, 1)
        top.addWidget(self.progress)
        top.addWidget(self.cancel_button)
        top.addWidget(self.export_button)

        self.summary = QLabel()
        self.summary.setObjectName("evaluationSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("perClassTable")
        self.table.setHorizontalHeaderLabels(["class", "precision", "recall", "images"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            self.table.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setToolTip("Precision: of the images predicted as the class, the share that are.\n"
                              "Recall: of the images of the class, the share found.")
        self.notes = QLabel()
        self.notes.setObjectName("evaluationNotes")
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: #8a6d00;")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.summary)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.notes)

        self.canvas = ConfusionMatrixCanvas()
        self.canvas.cellClicked.connect(self._list_cell)

        self.cell_title = QLabel()
        self.cell_title.setObjectName("cellTitle")
        self.cell_title.setWordWrap(True)
        self.cell_list = QListWidget()
        self.cell_list.setObjectName("cellImages")
        self.cell_list.setIconSize(THUMBNAIL)
        self.cell_list.setUniformItemSizes(True)
        self.cell_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.cell_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.cell_list.setToolTip("Double-click an image to explain it")
        self.cell_list.itemDoubleClicked.connect(lambda item: self.explainRequested.emit([item.data(PATH_ROLE)]))
        self.cell_list.itemSelectionChanged.connect(self._update_buttons)
        self.explain_button = QPushButton("Explain selected")
        self.explain_button.setObjectName("explainSelectedButton")
        self.explain_button.setToolTip("Add the selected images (all listed, when none is selected) to "
                                       "the image list and explain them")
        self.explain_button.clicked.connect(self.explain_selected)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.cell_title)
        right_layout.addWidget(self.cell_list, 1)
        right_layout.addWidget(self.explain_button)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        for widget in (left, self.canvas, right):
            self.splitter.addWidget(widget)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 5)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setSizes([260, 620, 260])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)

        self._thumbnail_timer = QTimer(self)
        self._thumbnail_timer.setInterval(0)
        self._thumbnail_timer.timeout.connect(self._load_some_thumbnails)

    # ------------------------------------------------------------------ running

    def set_folder(self, folder: str) -> None:
        self.folder_label.setText(folder)
        self.folder_label.setToolTip(folder)

    def evaluation_started(self, job: EvaluationJob, waiting: bool = False) -> None:
        self.set_folder(job.folder)
        self.progress.setRange(0, 0)  # busy until the first count arrives
        self.progress.setFormat("waiting for the running explanation" if waiting else "%v / %m images")
        self.progress.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self._update_buttons()

    def evaluation_progress(self, job: EvaluationJob) -> None:
        self.progress.setFormat("%v / %m images")
        self.progress.setRange(0, max(1, job.total))
        self.progress.setValue(min(job.done, job.total))

    def evaluation_ended(self, job: EvaluationJob) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        if job.state == "cancelled":
            self.folder_label.setText(f"{job.folder} — cancelled after {job.done} of {job.total} images")
        elif job.state == "failed":
            self.folder_label.setText(f"{job.folder} — {job.message}")
        self._update_buttons()

    @property
    def running(self) -> bool:
        return not self.cancel_button.isHidden()

    # ------------------------------------------------------------------ showing

    def show_result(self, result, seconds: float | None = None) -> None:
        self.result = result
        self.cell_list.clear()
        self._pending_thumbnails = []
        self.table.setRowCount(0)
        self.notes.clear()
        if result is None:
            self.summary.setText("<span style='color:#666'>Pick a folder with one sub-folder of images per "
                                 "class, named after the model's classes.</span>")
            self.canvas.show_message("Evaluate a labelled folder to see its confusion matrix")
            self.cell_title.setText("")
            self._update_buttons()
            return
        self.set_folder(result.folder)
        correct = int(np.trace(result.confusion_matrix))
        timing = "" if seconds is None else f" in {seconds:.1f} s" if seconds >= 0.1 else " in under 0.1 s"
        self.summary.setText(f"<span style='font-size:18px'><b>accuracy {result.accuracy:.1%}</b></span><br>"
                             f"{correct} of {result.total} images right{timing}<br>"
                             f"<span style='color:#555'>{_escape(result.model)}</span>")
        rows = [(label, m) for label, m in result.per_class.items()
                if m["support"] or len(result.labels) <= 30 or m["precision"] is not None]
        self.table.setRowCount(len(rows))
        for row, (label, metrics) in enumerate(rows):
            cells = (label, _percent(metrics["precision"]), _percent(metrics["recall"]), str(metrics["support"]))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        problems = [f"{len(result.skipped)} image(s) could not be read and were skipped"] if result.skipped else []
        self.notes.setText("\n".join(problems + list(result.notes)))
        self.notes.setToolTip("\n".join(item["error"] for item in result.skipped[:20]))
        self.canvas.set_result(result)
        self.cell_title.setText("Click a cell of the matrix to list its images.")
        self._update_buttons()

    def select_cell(self, true_class: int, predicted_class: int) -> None:
        """As a click on the cell: frame it and list its images."""
        self.canvas.select_cell(true_class, predicted_class)

    def listed_files(self) -> list[str]:
        return [self.cell_list.item(i).data(PATH_ROLE) for i in range(self.cell_list.count())]

    def explain_selected(self) -> None:
        items = self.cell_list.selectedItems() or [self.cell_list.item(i) for i in range(self.cell_list.count())]
        if items:
            self.explainRequested.emit([item.data(PATH_ROLE) for item in items])

    def _list_cell(self, true_class: int, predicted_class: int) -> None:
        labels = self.result.labels
        files = files_in_cell(self.result, true_class, predicted_class)
        verdict = "right" if true_class == predicted_class else "wrong"
        self.cell_title.setText(f"<b>{len(files)}</b> image{'s' if len(files) != 1 else ''}: true "
                                f"<b>{_escape(labels[true_class])}</b>, predicted "
                                f"<b>{_escape(labels[predicted_class])}</b> ({verdict})")
        self.cell_list.clear()
        self._pending_thumbnails = []
        placeholder = QPixmap(THUMBNAIL)
        placeholder.fill(Qt.GlobalColor.lightGray)
        for path in files:
            item = QListWidgetItem(QIcon(placeholder), Path(path).name)
            item.setData(PATH_ROLE, path)
            item.setToolTip(path)
            self.cell_list.addItem(item)
            self._pending_thumbnails.append(item)
        self._thumbnail_timer.start()
        self._update_buttons()

    def _load_some_thumbnails(self) -> None:
        started = time.monotonic()
        while self._pending_thumbnails and time.monotonic() - started < 0.02:
            for item in self._pending_thumbnails[:THUMBNAILS_PER_TICK]:
                pixmap = _thumbnail(item.data(PATH_ROLE))
                if pixmap is not None:
                    item.setIcon(QIcon(pixmap))
            del self._pending_thumbnails[:THUMBNAILS_PER_TICK]
        if not self._pending_thumbnails:
            self._thumbnail_timer.stop()

    def _update_buttons(self) -> None:
        self.export_button.setEnabled(self.result is not None)
        self.explain_button.setEnabled(self.cell_list.count() > 0)
        self.explain_button.setText("Explain selected" if self.cell_list.selectedItems() else "Explain all listed")


def _thumbnail(path: str) -> QPixmap | None:
    """A small copy, decoded at that size (a big photo is never loaded whole)."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and not size.isEmpty():
        reader.setScaledSize(size.scaled(THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return None if image.isNull() else QPixmap.fromImage(image)


def _percent(value) -> str:
    return "—" if value is None else f"{value:.1%}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
