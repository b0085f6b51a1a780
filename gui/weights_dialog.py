"""What the window offers when the ResNet-50 ImageNet weights are missing.

Three ways on: choose the file (then the model reloads with it), download it (in the engine
thread, with a progress dialog that shows bytes, speed and a Cancel button), or carry on
with the untrained network. None of them blocks the window.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QProgressDialog, QWidget

from engine.weights import RESNET50_FILENAME, RESNET50_SIZE, format_bytes
from gui.banner import Banner
from gui.engine_controller import EngineController
from gui.engine_requests import ModelFailure
from gui.remembered_folders import MODELS, open_file

KB = 1024  # the dialog counts kilobytes: QProgressDialog takes 32-bit ints


class DownloadDialog(QProgressDialog):
    def __init__(self, filename: str, parent: QWidget | None = None) -> None:
        super().__init__(f"Downloading {filename}…", "Cancel", 0, 0, parent)
        self.setObjectName("downloadDialog")
        self.setWindowTitle("Download ResNet-50 weights")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumDuration(0)
        self.setAutoClose(False)
        self.setAutoReset(False)
        self.setMinimumWidth(460)
        self._filename = filename
        self._started = time.monotonic()

    def update_progress(self, done: int, total: int) -> None:
        elapsed = max(1e-6, time.monotonic() - self._started)
        speed = f"{format_bytes(done / elapsed)}/s"
        if total:
            self.setMaximum(max(1, total // KB))
            self.setValue(min(done, total) // KB)
            amount = f"{format_bytes(done)} of {format_bytes(total)}"
        else:
            self.setMaximum(0)  # unknown size: a busy bar
            amount = format_bytes(done)
        self.setLabelText(f"Downloading {self._filename}\n{amount}  ·  {speed}")


class WeightsAssistant(QObject):
    """Shows the missing-weights banner and carries out the option the person picks."""

    def __init__(self, window: QWidget, banner: Banner, controller: EngineController) -> None:
        super().__init__(window)
        self._window = window
        self._banner = banner
        self._controller = controller
        self._failure: ModelFailure | None = None  # weights missing
        self._wrong: ModelFailure | None = None  # a weights file that did not fit
        self.dialog: DownloadDialog | None = None
        controller.downloadProgress.connect(self._on_progress)
        controller.downloadFinished.connect(self._on_finished)
        controller.downloadFailed.connect(self._on_failed)
        controller.downloadCancelled.connect(self._on_cancelled)

    def offer(self, failure: ModelFailure) -> None:
        self._failure, self._wrong = failure, None
        text = (f"<b>The ResNet-50 ImageNet weights are not on this computer.</b><br>"
                f"The app needs <code>{failure.filename}</code> ({format_bytes(RESNET50_SIZE)}) in "
                f"<code>{failure.folder}</code>. Choose the file if you have it, download it, "
                f"or explore with the untrained network (its answers mean nothing).<br>"
                f"Explaining your own classifier instead? Open it with <b>Model ▸ Open model…</b> "
                f"(Ctrl+M): it needs none of this.")
        self._banner.show_message(text, "warning", [
            ("Choose weights file…", self.choose_file),
            ("Download", self.download),
            ("Use untrained network", self.use_untrained),
        ], topic="model")

    def offer_after_error(self, failure: ModelFailure) -> None:
        """ResNet-50 failed to load for another reason (say, a wrong weights file): plain
        words and the ways on; what Keras said is the text's tooltip."""
        message = failure.message
        self._wrong = failure
        if failure.wrong_weights:
            name = Path(self._request().weights or "").name
            text = (f"<b>This file does not hold ResNet-50 ImageNet weights</b> "
                    f"({_escape(failure.wrong_weights)}): <code>{_escape(name)}</code>.<br>Choose <code>{RESNET50_FILENAME}</code> "
                    f"({format_bytes(RESNET50_SIZE)}, from Keras Applications), download it, or "
                    "explore with the untrained network.")
            actions = [("Choose weights file…", self.choose_file), ("Download", self.download),
                       ("Use untrained network", self.use_untrained)]
        else:
            text = f"<b>The model could not be loaded:</b> {_escape(message)}"
            actions = [("Choose weights file…", self.choose_file), ("Use untrained network", self.use_untrained)]
        self._banner.show_message(text, "error", actions, topic="model", details=failure.detail)

    def choose_file(self) -> None:
        path = open_file(self._window, MODELS, "Choose the ResNet-50 weights file",
                         "Keras weights (*.h5 *.hdf5 *.keras);;All files (*)")
        if path:
            self._banner.dismiss("model")
            self._controller.load_model(self._request().with_weights(path))

    def use_untrained(self) -> None:
        self._banner.dismiss("model")
        self._controller.load_model(self._request().with_weights("none"))

    def download(self) -> None:
        self._banner.dismiss("model")
        self.dialog = DownloadDialog(self._failure.filename if self._failure else RESNET50_FILENAME,
                                     self._window)
        self.dialog.canceled.connect(self._controller.cancel_download)
        self.dialog.show()
        self._controller.download_weights()

    # ------------------------------------------------------------------ download signals

    def _on_progress(self, done, total) -> None:
        if self.dialog is not None:
            self.dialog.update_progress(int(done), int(total))

    def _on_finished(self, path: str) -> None:
        self._close_dialog()
        self._window.statusBar().showMessage(f"Downloaded {path}", 8000)
        # Weights now sit in the Keras cache, where the lookup finds them.
        self._controller.load_model(self._request().with_weights(None))

    def _on_failed(self, message: str) -> None:
        self._close_dialog()
        self._window.statusBar().showMessage(message, 10000)
        self._offer_again()
        strip = self._banner.strip("model")
        if strip is not None and not strip.isHidden():
            strip.label.setText(f"<b>{_escape(message)}</b><br>" + strip.label.text())

    def _on_cancelled(self) -> None:
        self._close_dialog()
        self._window.statusBar().showMessage("Download cancelled", 5000)
        self._offer_again()

    def _offer_again(self) -> None:
        """After a failed or cancelled download: the ways on, as before it."""
        if self._failure is not None:
            self.offer(self._failure)
        elif self._wrong is not None:
            self.offer_after_error(self._wrong)

    def _close_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.canceled.disconnect()
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None

    def _request(self):
        from gui.engine_requests import ModelRequest

        return self._controller.model_request or ModelRequest()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
