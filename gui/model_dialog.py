"""Model ▸ Open model…: choose a Keras or ONNX classifier, its class names, preprocessing,
input layout (ONNX) and trust.

The dialog only gathers a ``ModelRequest``; loading happens in the engine thread. Choosing a
model file fills in the preprocessing, labels and layout last used with it (``model_memory``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.preprocess import PREPROCESS_MODES
from gui.engine_requests import ModelRequest
from gui.model_memory import remembered_choices
from gui.remembered_folders import MODELS, existing_folder, open_file

MODEL_FILTER = ("Models (*.keras *.h5 *.hdf5 *.onnx);;Keras models (*.keras *.h5 *.hdf5);;"
                "ONNX models (*.onnx);;All files (*)")
LAYOUTS = {"": "from the input shape", "NCHW": "NCHW (channels first: PyTorch)",
           "NHWC": "NHWC (channels last: TensorFlow)"}
LAYOUT_TIP = ("Where an ONNX model's input keeps the colour channels. Found from the input "
              "shape when it can be; choose it when the shape does not say.")
LABELS_FILTER = "Class names (*.txt *.json);;All files (*)"
CUSTOM_OBJECTS_FILTER = "Python files (*.py)"
CUSTOM_OBJECTS_TIP = ("A Python file that defines the model's custom layers. It runs when the model "
                      "loads, so it is used only when you trust the model.")
LABELS_PLACEHOLDER = "labels.txt beside the model, else class 0…N-1"
TRUST_TEXT = "I trust this file (it may run code when loaded)"
TRUST_TIP = ("Models with Lambda layers or custom objects, and TensorFlow SavedModel folders, "
             "run code from the file when they load. Leave this off unless you know where the "
             "file came from; the app refuses such a model and says so.")
PREPROCESS_TIP = ("How 0–255 pixels become the numbers the model was trained on "
                  "(PyTorch models: usually torch)")


class OpenModelDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, current: ModelRequest | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("openModelDialog")
        self.setWindowTitle("Open model")
        self.setMinimumWidth(620)

        self.model_edit = QLineEdit()
        self.model_edit.setObjectName("modelPath")
        self.model_edit.setPlaceholderText("a .keras, .h5 or .onnx file, or a TensorFlow SavedModel folder")
        self.model_edit.editingFinished.connect(lambda: self._model_chosen(self.model_edit.text()))
        self.model_edit.textChanged.connect(self._update_ok)
        model_file = QPushButton("File…")
        model_file.setToolTip("Choose a .keras, .h5 or .onnx model file")
        model_file.clicked.connect(self.choose_model_file)
        model_folder = QPushButton("Folder…")
        model_folder.setToolTip("Choose a TensorFlow SavedModel folder")
        model_folder.clicked.connect(self.choose_model_folder)

        self.labels_edit = QLineEdit()
        self.labels_edit.setObjectName("labelsPath")
        self.labels_edit.setPlaceholderText(LABELS_PLACEHOLDER)
        self.labels_edit.setClearButtonEnabled(True)
        self.labels_edit.setToolTip("Class names: a text file (one name a line) or JSON (a list, "
                                    "or a dict of index → name); their number must match the model's outputs")
        labels_file = QPushButton("Choose…")
        labels_file.clicked.connect(self.choose_labels)

        self.custom_edit = QLineEdit()
        self.custom_edit.setObjectName("customObjectsPath")
        self.custom_edit.setPlaceholderText("none (only for a model with custom layers)")
        self.custom_edit.setClearButtonEnabled(True)
        self.custom_edit.setToolTip(CUSTOM_OBJECTS_TIP)
        self.custom_edit.textChanged.connect(self._custom_objects_changed)
        custom_file = QPushButton("Choose…")
        custom_file.clicked.connect(self.choose_custom_objects)

        self.preprocess_combo = QComboBox()
        self.preprocess_combo.setObjectName("preprocess")
        self.preprocess_combo.setToolTip(PREPROCESS_TIP)
        for mode, text in PREPROCESS_MODES.items():
            self.preprocess_combo.addItem(f"{mode} — {text}", mode)

        self.layout_combo = QComboBox()
        self.layout_combo.setObjectName("layout")
        self.layout_combo.setToolTip(LAYOUT_TIP)
        for layout, text in LAYOUTS.items():
            self.layout_combo.addItem(text, layout)
        self.model_edit.textChanged.connect(self._update_layout_enabled)

        self.trust_box = QCheckBox(TRUST_TEXT)
        self.trust_box.setObjectName("trustModel")
        self.trust_box.setToolTip(TRUST_TIP)
        self.remembered_note = QLabel()
        self.remembered_note.setObjectName("rememberedNote")
        self.remembered_note.setStyleSheet("color: #555;")

        form = QFormLayout()
        form.addRow("Model", _row(self.model_edit, model_file, model_folder))
        form.addRow("Class names", _row(self.labels_edit, labels_file))
        form.addRow("Custom layers", _row(self.custom_edit, custom_file))
        form.addRow("Preprocessing", self.preprocess_combo)
        form.addRow("Input layout", self.layout_combo)
        form.addRow("", self.trust_box)
        form.addRow("", self.remembered_note)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

        self._base = current or ModelRequest()
        self._filled_for = ""  # the model path the other fields were filled in for
        if current is not None and current.model != "resnet50":
            self._filled_for = current.model
            self.model_edit.setText(current.model)
            self.labels_edit.setText(current.labels or "")
            self.custom_edit.setText(current.custom_objects or "")
            self._set_preprocess(current.preprocess or "none")
            self._set_layout(current.layout)
        else:
            self._set_preprocess("none")
        self._update_ok()
        self._update_layout_enabled()

    # ------------------------------------------------------------------ choosing

    def choose_model_file(self) -> None:
        path = open_file(self, MODELS, "Open a model", MODEL_FILTER, self._start_folder())
        if path:
            self.set_model(path)

    def choose_model_folder(self) -> None:
        path = existing_folder(self, MODELS, "Open a TensorFlow SavedModel folder", self._start_folder())
        if path:
            self.set_model(path)

    def choose_labels(self) -> None:
        path = open_file(self, MODELS, "Class names for this model", LABELS_FILTER, self._start_folder())
        if path:
            self.labels_edit.setText(path)

    def choose_custom_objects(self) -> None:
        path = open_file(self, MODELS, "Python file with the model's custom layers", CUSTOM_OBJECTS_FILTER,
                         self._start_folder())
        if path:
            self.custom_edit.setText(path)

    def set_model(self, path: str) -> None:
        self.model_edit.setText(path)
        self._model_chosen(path)

    def request(self) -> ModelRequest:
        # Built on the current request, so choices made elsewhere (the runtime) carry over.
        model = self.model_edit.text().strip()
        return replace(self._base, model=model, weights=None,
                       labels=self.labels_edit.text().strip() or None,
                       preprocess=self.preprocess_combo.currentData(), trust=self.trust_box.isChecked(),
                       layout=(self.layout_combo.currentData() or None) if _is_onnx(model) else None,
                       custom_objects=self.custom_edit.text().strip() or None)

    # ------------------------------------------------------------------ helpers

    def _model_chosen(self, path: str) -> None:
        """Fill in what was used with this model last time (another model's labels never carry over)."""
        path = path.strip()
        if not path or path == self._filled_for:
            return
        self._filled_for = path
        choices = remembered_choices(path)
        self._set_preprocess(choices["preprocess"] or "none")
        self.labels_edit.setText(choices["labels"] or "")
        self._set_layout(choices["layout"])
        remembered = choices["preprocess"] or choices["labels"] or choices["layout"]
        self.remembered_note.setText("Preprocessing, class names and layout as last used with this model."
                                     if remembered else "")

    def _custom_objects_changed(self, text: str) -> None:
        # Running the file is trusting it: the box says so instead of a refusal after Open.
        if text.strip():
            self.trust_box.setChecked(True)

    def _set_preprocess(self, mode: str) -> None:
        index = self.preprocess_combo.findData(mode)
        self.preprocess_combo.setCurrentIndex(max(0, index))

    def _set_layout(self, layout: str | None) -> None:
        self.layout_combo.setCurrentIndex(max(0, self.layout_combo.findData(layout or "")))

    def _update_layout_enabled(self) -> None:
        self.layout_combo.setEnabled(_is_onnx(self.model_edit.text().strip()))

    def _update_ok(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(bool(self.model_edit.text().strip()))

    def _start_folder(self) -> str:
        """Beside the model chosen, else where the last model dialog ended (remembered)."""
        text = self.model_edit.text().strip()
        folder = Path(text).parent if text else None
        return str(folder) if folder is not None and folder.is_dir() else ""


def _is_onnx(path: str) -> bool:
    return path.lower().endswith(".onnx")


def _row(*widgets: QWidget) -> QWidget:
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, QLineEdit) else 0)
    return holder
