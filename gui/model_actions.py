"""Switching models in the window: open a model file, go back to ResNet-50, trust, summary.

``ModelFeature`` owns this; the window composes it and routes the controller's
``modelReady`` to ``on_model_switched``. Loading runs in the engine thread through
``EngineController.load_model``. Results of two models are never mixed: switching cancels
running work, and once the new model is in, every image is predicted again and explanations
made with the old model are cleared. A model that fails to open leaves the one in use (or
none) and says why in one line; a file refused because it would run code can be re-opened
as trusted after an explicit confirmation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QMainWindow, QMessageBox

from gui.engine_requests import ModelFailure, ModelInfo, ModelRequest
from gui.model_dialog import OpenModelDialog
from gui.model_memory import remember_model, remember_precision
from gui.model_summary import ModelSummaryDialog
from gui.recent_models import RecentModelsMenu, add_recent, recent_request

MESSAGE_MS = 10_000


class ModelFeature:
    """Which model the window uses, and what happens to the images when it changes.

    ``window`` is used only to parent the dialogs and for the status bar. ``launch_request``
    is the model the app was started with; ``entries`` is the window's image dict (its
    images' results are cleared on a switch); ``show_entry(key)`` puts an image on screen;
    ``fast_cpu_action`` and ``recent_menu`` are the Model menu's entries this drives.
    """

    def __init__(self, window: QMainWindow, controller, launch_request: ModelRequest, *, banner,
                 settings_panel, results_view, image_list, entries: dict, show_entry: Callable,
                 report: Callable, fast_cpu_action: QAction, recent_menu: RecentModelsMenu) -> None:
        self._window = window
        self._controller = controller
        self._launch_request = launch_request
        self._banner = banner
        self._settings_panel = settings_panel
        self._results_view = results_view
        self._image_list = image_list
        self._entries = entries
        self._show_entry = show_entry
        self._report = report
        self._fast_cpu_action = fast_cpu_action
        self.recent_menu = recent_menu
        self._opening: ModelRequest | None = None  # a model opened from the window, while it loads
        self._model_in_use: ModelInfo | None = None  # the model the images' results come from
        self.summary_dialog: ModelSummaryDialog | None = None
        self.model_dialog: OpenModelDialog | None = None  # while Open model… is up

    def _status(self, message: str) -> None:
        self._window.statusBar().showMessage(message, MESSAGE_MS)

    def _current_request(self) -> ModelRequest:
        return self._controller.model_request or self._launch_request

    # ------------------------------------------------------------------ opening

    def open_model_dialog(self) -> ModelRequest | None:
        """Model ▸ Open model…; returns the request being loaded, None when cancelled."""
        self.model_dialog = OpenModelDialog(self._window, self._current_request())
        try:
            if self.model_dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            request = self.model_dialog.request()
        finally:
            self.model_dialog.deleteLater()
            self.model_dialog = None
        self.open_model(request)
        return request

    def open_model(self, request: ModelRequest) -> None:
        """Load ``request`` in the engine thread; the images in the list follow (see above)."""
        self._opening = request
        self._controller.cancel_all()  # the engine runs one thing at a time: free it for the load
        cancel_evaluation = getattr(self._controller, "cancel_evaluation", None)
        if cancel_evaluation is not None:
            cancel_evaluation()
        self._banner.dismiss("model")
        self._status(f"Opening {_model_name(request)}…")
        self._controller.load_model(request)

    def open_recent_model(self, entry: dict) -> ModelRequest | None:
        """A Recent models entry: loaded as Open model… would, if the file is still there."""
        if not Path(entry["model"]).exists():
            self._report(f"{entry['model']}: model file not found (moved or deleted)", topic="model")
            self.recent_menu.refresh()
            return None
        request = recent_request(entry, self._current_request())
        self.open_model(request)
        return request

    def use_resnet50(self) -> None:
        """Model ▸ Use ResNet-50 (ImageNet): back to the built-in network."""
        launch = self._launch_request
        weights = launch.weights if launch.model == "resnet50" else None
        self.open_model(replace(self._current_request(), model="resnet50", weights=weights, labels=None,
                                preprocess=None, trust=False, layout=None))

    def toggle_fast_cpu(self) -> None:
        """Model ▸ Fast CPU mode: reload the model in bfloat16 (or back to float32); kept for
        the next launch. Results already shown are cleared like for any model switch."""
        precision = "bfloat16" if self._fast_cpu_action.isChecked() else "float32"
        remember_precision(precision)
        self.open_model(replace(self._current_request(), precision=precision))

    def trust_and_reopen(self) -> bool:
        """The banner's "Open as trusted…": ask, then load the refused file with trust."""
        request = self._controller.model_request
        if request is None or request.model == "resnet50":
            return False
        name = _model_name(request)
        answer = QMessageBox.warning(
            self._window, "Trust this model file?",
            f"<b>{_escape(name)}</b> runs code from the file when it loads (a Lambda layer, "
            "custom objects or a SavedModel graph). That code can do anything your account "
            "can do.<br><br>Open it only if you know where it came from and trust it.",
            QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Open:
            self._status(f"{name} was not opened")
            return False
        self.open_model(replace(request, trust=True))
        return True

    # ------------------------------------------------------------------ summary

    def show_summary(self) -> ModelSummaryDialog:
        """Model ▸ Model summary…: the model in use, or none while one loads."""
        if self.summary_dialog is None:
            self.summary_dialog = ModelSummaryDialog(self._window)
        self.summary_dialog.set_info(self._controller.model_info if self._controller.model_state == "ready"
                                     else None)
        self.summary_dialog.show()
        self.summary_dialog.raise_()
        self.summary_dialog.activateWindow()
        return self.summary_dialog

    # ------------------------------------------------------------------ background-set SHAP

    def background_ready(self, settings) -> bool:
        """Background-set SHAP needs a folder; without one, say so (with a way to pick it)."""
        if "shap-gradient" not in settings.method_list or settings.shap_background:
            return True
        self._banner.show_message(
            "<b>SHAP (background set) needs background images.</b> Choose a folder of typical "
            "images (say 50–200 from the training set) under Settings ▸ SHAP (background set).",
            "info", [("Choose folder…", self._choose_background)], topic="background")
        self._status("Choose a background folder for SHAP (background set) first")
        return False

    def _choose_background(self) -> None:
        if self._settings_panel.widgets["shap_background"].choose():
            self._banner.dismiss("background")
            self._status("Background folder set: press Explain (Ctrl+E)")

    # ------------------------------------------------------------------ engine signals

    def on_model_switched(self, info: ModelInfo) -> None:
        request = self._controller.model_request
        self._fast_cpu_action.setChecked(info.precision == "bfloat16")
        if self.summary_dialog is not None:
            self.summary_dialog.set_info(info)
        if self._opening is not None and request.model == self._opening.model:
            # Opened from the window (also after the weights assistant helped ResNet-50 load);
            # a model from the command line is for that run only.
            remember_model(request)
        self._opening = None
        add_recent(request)  # from the window or the command line: both are "opened"
        self.recent_menu.refresh()
        replaced, self._model_in_use = self._model_in_use, info
        if replaced is None:
            return  # the first model of the session: predictions are already on their way
        cleared = self._forget_results()
        for entry in self._entries.values():
            self._controller.predict(entry.key, entry.image)
        self._show_entry(self._image_list.current_key())
        count = len(self._entries)
        note = f"Opened {info.label}"
        if count:
            note += f": {count} image{'s' if count != 1 else ''} predicted again"
        self._status(note)
        if cleared:
            self._banner.show_message(
                f"Explanations made with the previous model were cleared ({cleared} image"
                f"{'s' if cleared != 1 else ''}); press Explain to explain with {_escape(info.label)}.",
                "info", topic="model")

    def _forget_results(self) -> int:
        """Drop every result, preview and prediction of the previous model; how many images had some."""
        cleared = 0
        for entry in self._entries.values():
            cleared += bool(entry.results)
            entry.results.clear()
            entry.metrics.clear()
            entry.predictions, entry.prediction_error, entry.error = None, None, None
            entry.status, entry.progress = "ready", 0.0
            self._results_view.remove_entry(entry.key)
            self._image_list.update_entry(entry)
        return cleared

    def explain_failure(self, failure: ModelFailure) -> bool:
        """Say why a model did not load; False leaves ResNet-50's weights problems to the
        weights assistant."""
        request = self._controller.model_request
        previous = failure.previous
        if request is not None and request.precision == "bfloat16" and not failure.weights_missing:
            # Fast CPU mode could not start (no bfloat16 instructions, no OpenVINO): say so,
            # and leave the mode off so the next launch does not fail the same way.
            in_use = previous.precision if previous is not None else "float32"
            self._fast_cpu_action.setChecked(in_use == "bfloat16")
            remember_precision(in_use)
            self._opening = None
            still = f" Still using {_escape(previous.label)}." if previous is not None else ""
            self._banner.show_message(f"Fast CPU mode is not available: {_escape(failure.message)}.{still}",
                                     "error", topic="model")
            return True
        if request is None or request.model == "resnet50":
            return False  # missing or wrong weights: the weights assistant offers the ways on
        self._opening = None
        still = (f" Still using {_escape(previous.label)}." if previous is not None
                 else " No model is loaded: open another one (Model ▸ Open model…).")
        if failure.needs_trust:
            # The engine's message ends with the command line's way to trust; say the window's.
            reason = failure.message.split(";")[0]
            self._status(f"Not opened: {reason}")
            self._banner.show_message(
                f"<b>Not opened: {_escape(reason)}.</b> Such code can do anything your account "
                f"can do; open the model only if you trust the file.{still}",
                "warning", [("Open as trusted…", self.trust_and_reopen)], topic="model")
        else:
            self._status(f"The model could not be loaded: {failure.message}")
            message = _escape(failure.message.rstrip("."))
            self._banner.show_message(f"<b>The model could not be loaded:</b> {message}.{still}",
                                     "error", topic="model")
        return True


def model_name(model: str) -> str:
    """How a model is named to the person: ResNet-50, or its file (or folder) name."""
    return "ResNet-50" if model == "resnet50" else (Path(model).name or model)


def _model_name(request: ModelRequest) -> str:
    return model_name(request.model)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
