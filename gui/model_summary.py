"""Model ▸ Model summary…: the loaded model's layers, output shapes and parameter counts
(for an ONNX model: its input, output, opset and nodes counted by op type).

Everything shown comes from ``ModelInfo`` (read in the engine thread when the model loaded),
so opening this never touches Keras. A non-modal window that follows model changes.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.engine_requests import ModelInfo

COLUMNS = ("Layer", "Type", "Output shape", "Parameters", "Trainable", "Non-trainable")


class ModelSummaryDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelSummaryDialog")
        self.setWindowTitle("Model summary")
        self.resize(820, 560)

        self.facts: dict[str, QLabel] = {}
        self.extra_facts: list[tuple[QLabel, QLabel]] = []  # the model's own lines (ModelInfo.facts)
        form = QFormLayout()
        self.form = form
        form.setHorizontalSpacing(14)
        for key, caption in (("model", "Model"), ("source", "File"), ("input", "Input"),
                             ("classes", "Classes"), ("head", "Output"),
                             ("preprocess", "Preprocessing"),
                             ("labels", "Class names from"), ("params", "Parameters")):
            label = QLabel()
            label.setObjectName(f"fact:{key}")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self.facts[key] = label
            form.addRow(f"{caption}:", label)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("layerTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)

        self.empty = QLabel("No model is loaded.")
        self.empty.setObjectName("summaryEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addWidget(buttons)
        self.set_info(None)

    def set_info(self, info: ModelInfo | None) -> None:
        self.info = info
        self.table.setVisible(info is not None)
        self.empty.setVisible(info is None)
        self._set_extra_facts(info.facts if info is not None else ())
        if info is None:
            for label in self.facts.values():
                label.setText("—")
            self.table.setRowCount(0)
            return
        height, width = info.input_size
        channels = "RGB" if info.channels == 3 else "grey" if info.channels == 1 else f"{info.channels} channels"
        total = next((r for r in info.summary if r.get("is_total")), None)
        self.facts["model"].setText(info.label)
        untrained = "no weights file (untrained)" if info.untrained else "—"
        self.facts["source"].setText(info.source if info.source not in ("", "none") else untrained)
        self.facts["input"].setText(f"{width} × {height} pixels, {info.channels} channel"
                                    f"{'s' if info.channels != 1 else ''} ({channels})")
        self.facts["classes"].setText(_classes_text(info))
        self.facts["head"].setText(_head_text(info.head))
        self.facts["preprocess"].setText(_preprocess_text(info.preprocess))
        self.facts["labels"].setText(info.labels_source or "—")
        self.facts["params"].setText(_params_text(total))
        self._fill_table(info.summary)

    def _set_extra_facts(self, facts) -> None:
        for caption, _ in self.extra_facts:
            self.form.removeRow(caption)  # deletes both labels
        self.extra_facts = []
        for caption, text in facts:
            value = QLabel(text)
            value.setObjectName(f"fact:{caption}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            label = QLabel(f"{caption}:")
            self.form.addRow(label, value)
            self.extra_facts.append((label, value))

    def _fill_table(self, rows) -> None:
        self.table.setRowCount(len(rows))
        bold = QFont()
        bold.setBold(True)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for r, row in enumerate(rows):
            cells = (row["name"], row["type"], row["output_shape"], _count(row["params"]),
                     _count(row["trainable_params"]), _count(row["non_trainable_params"]))
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c >= 3:
                    item.setTextAlignment(right)
                if row.get("is_total"):
                    item.setFont(bold)
                self.table.setItem(r, c, item)

    def layer_rows(self) -> list[tuple[str, ...]]:
        """The table as text, row by row (what the person reads)."""
        return [tuple(self.table.item(r, c).text() for c in range(self.table.columnCount()))
                for r in range(self.table.rowCount())]


def _count(value) -> str:
    """A parameter count; "—" where the format has none (ONNX has no trainable flag)."""
    return "—" if value is None else f"{value:,}"


def _params_text(total) -> str:
    if not total:
        return "—"
    if total["trainable_params"] is None:
        return f"{total['params']:,}"
    return (f"{total['params']:,} ({total['trainable_params']:,} trainable, "
            f"{total['non_trainable_params']:,} non-trainable)")


def _classes_text(info: ModelInfo) -> str:
    names = list(info.class_names)
    shown = ", ".join(names[:8]) + (f", … ({len(names) - 8} more)" if len(names) > 8 else "")
    return f"{info.num_classes}: {shown}" if names else str(info.num_classes)


def _head_text(head: str) -> str:
    from engine.heads import HeadKind, note

    if head not in {k.value for k in HeadKind}:
        return "—"
    return note(head) or "probabilities (softmax)"


def _preprocess_text(mode: str) -> str:
    from engine.preprocess import PREPROCESS_MODES

    return f"{mode} — {PREPROCESS_MODES[mode]}" if mode in PREPROCESS_MODES else (mode or "—")
