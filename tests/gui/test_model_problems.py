"""Model problems are explained in the window, and the app keeps working."""

import hashlib
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PySide6.QtWidgets import QFileDialog, QPushButton

from engine.weights import ENV_WEIGHTS_MD5, ENV_WEIGHTS_PATH, ENV_WEIGHTS_URL, RESNET50_FILENAME
from gui.engine_requests import ModelRequest
from gui.main_window import MainWindow

PAYLOAD = os.urandom(2 * 1024 * 1024 + 321)  # not real weights: loading them must fail cleanly


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        pace = 0.2 if self.path == "/slow" else 0.01
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        try:
            for start in range(0, len(PAYLOAD), 128 * 1024):
                self.wfile.write(PAYLOAD[start:start + 128 * 1024])
                self.wfile.flush()
                time.sleep(pace)  # the server is slow, so progress has time to show
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """A Keras cache with no ResNet-50 weights in it."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    for name in (ENV_WEIGHTS_PATH, ENV_WEIGHTS_URL, ENV_WEIGHTS_MD5):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "keras" / "models"


def _window(qtbot, request: ModelRequest) -> MainWindow:
    window = MainWindow(request, restore_layout=False)
    qtbot.addWidget(window)
    window.show()
    return window


def _buttons(window):
    return {b.text(): b for b in window.banner.buttons}


def test_a_model_file_that_cannot_load_is_reported(qtbot, tmp_path, image_folder):
    window = _window(qtbot, ModelRequest(model=str(tmp_path / "missing.keras")))
    with qtbot.waitSignal(window.controller.modelFailed, timeout=60_000):
        window.start()
    assert "missing.keras: model file not found" in window.banner.text()
    assert "missing.keras" in window.statusBar().currentMessage()
    assert window.chrome.model_label.text() == "No model"
    # Still usable: images load, and the panel says why there are no predictions.
    (entry,) = window.add_paths([image_folder / "noise.png"])
    assert window.current_entry() is entry
    assert "not loaded" in window.predictions_view.message.text()
    # Explain would wait forever for a model: it is off, and says why.
    assert not window.explain_button.isEnabled() and not window.chrome.explain_action.isEnabled()
    assert "Model ▸ Open model…" in window.explain_button.toolTip()
    window.close()
    assert not window.controller.thread.isRunning()


def test_missing_weights_choose_download_or_untrained(qtbot, tmp_path, no_weights, server, monkeypatch):
    window = _window(qtbot, ModelRequest())
    with qtbot.waitSignal(window.controller.modelFailed, timeout=60_000) as failed:
        window.start()
    failure = failed.args[0]
    assert failure.weights_missing and failure.filename == RESNET50_FILENAME
    text = window.banner.text()
    assert RESNET50_FILENAME in text and str(no_weights) in text
    assert "Model ▸ Open model…" in text  # one's own model needs no ResNet-50 weights
    assert set(_buttons(window)) == {"Choose weights file…", "Download", "Use untrained network"}

    # (a) Choose a file: the model reloads with it (this one is not real weights: a clear error).
    bogus = tmp_path / "my-weights.h5"
    bogus.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(bogus), "")))
    with qtbot.waitSignal(window.controller.modelFailed, timeout=120_000) as failed:
        _buttons(window)["Choose weights file…"].click()
    assert window.controller.model_request.weights == str(bogus)
    assert "my-weights.h5" in failed.args[0].message
    # Plain words, the file needed and the ways on; what Keras said only on hover.
    text = window.banner.text()
    assert "my-weights.h5" in text and "does not hold ResNet-50 ImageNet weights" in text
    assert "it is not a Keras weights file" in text and RESNET50_FILENAME in text
    detail = failed.args[0].detail
    assert detail and detail not in text and detail not in failed.args[0].message
    assert window.banner.strip("model").label.toolTip() == f"Details: {detail}"
    assert set(_buttons(window)) == {"Choose weights file…", "Download", "Use untrained network"}

    # (b) Download, with a progress dialog (bytes, speed, Cancel) fed from the engine thread.
    window.weights.offer(failure)
    monkeypatch.setenv(ENV_WEIGHTS_URL, f"{server}/slow")
    monkeypatch.setenv(ENV_WEIGHTS_MD5, hashlib.md5(PAYLOAD).hexdigest())
    with qtbot.waitSignal(window.controller.downloadProgress, timeout=30_000,
                          check_params_cb=lambda done, total: done > 0):
        _buttons(window)["Download"].click()
    dialog = window.weights.dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: " of 2.0 MB" in dialog.labelText() and "/s" in dialog.labelText())
    cancel_button = dialog.findChild(QPushButton)
    assert cancel_button.text() == "Cancel"
    with qtbot.waitSignal(window.controller.downloadCancelled, timeout=30_000):
        cancel_button.click()
    assert window.weights.dialog is None
    assert not (no_weights / RESNET50_FILENAME).exists()
    assert "Download" in _buttons(window)  # offered again

    monkeypatch.setenv(ENV_WEIGHTS_URL, f"{server}/fast")
    with qtbot.waitSignal(window.controller.downloadFinished, timeout=60_000):
        _buttons(window)["Download"].click()
    assert (no_weights / RESNET50_FILENAME).read_bytes() == PAYLOAD
    # The model reloads from the Keras cache; these bytes are no weights, so it says so.
    with qtbot.waitSignal(window.controller.modelFailed, timeout=120_000) as failed:
        pass
    assert RESNET50_FILENAME in failed.args[0].message

    # (c) The untrained network.
    with qtbot.waitSignal(window.controller.modelReady, timeout=180_000) as ready:
        _buttons(window)["Use untrained network"].click()
    assert ready.args[0].untrained
    assert not window.chrome.untrained_label.isHidden()
    assert window.banner.isHidden()
    qtbot.waitUntil(lambda: not window.controller.warming_up, timeout=120_000)
