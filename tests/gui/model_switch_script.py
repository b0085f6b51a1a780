"""Run by test_model_switching in a child process (a crash there must not take pytest down).

The sequence a person met: start without weights, choose a file that is not weights
(refused), open a sample, Explain (it waits for a model), use the untrained network; then
switch model twice quickly while a job runs. Prints one line per step; exits 0 only if the
window got through it all and closed cleanly.
"""

import faulthandler
import os
import sys
import tempfile
import time
from pathlib import Path

faulthandler.enable()  # a segfault prints where it happened
os.environ["QT_QPA_PLATFORM"] = "offscreen"
home = Path(tempfile.mkdtemp(prefix="model-switch-"))
os.environ["KERAS_HOME"] = str(home / "keras")  # no ResNet-50 weights in it
for name in ("IMAGE_EXPLAINER_WEIGHTS", "IMAGE_EXPLAINER_WEIGHTS_URL", "IMAGE_EXPLAINER_WEIGHTS_MD5"):
    os.environ.pop(name, None)
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication, QFileDialog  # noqa: E402

QSettings.setDefaultFormat(QSettings.Format.IniFormat)
for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
    QSettings.setPath(QSettings.Format.IniFormat, scope, str(home))
app = QApplication([])

import engine.weights  # noqa: E402

engine.weights.bundled_weights_path = lambda: home / "absent.h5"

from gui.engine_requests import ModelRequest  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402


def wait(what: str, condition, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        app.processEvents()
        time.sleep(0.01)
        if time.monotonic() > deadline:
            print(f"timed out waiting for: {what}", flush=True)
            sys.exit(3)
    print(what, flush=True)


window = MainWindow(ModelRequest(), restore_layout=False)
window.show()
window.start()
controller = window.controller
wait("no weights: refused", lambda: controller.model_state == "failed")

bogus = home / "my-weights.h5"
bogus.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
QFileDialog.getOpenFileName = staticmethod(lambda *a, **k: (str(bogus), ""))
window.weights.choose_file()
wait("wrong weights file: refused", lambda: controller.model_state == "failed"
     and controller.model_request.weights == str(bogus) and controller.model_failure is not None)

window.settings_panel.apply_overrides(methods="shap", classes=1, shap_max_evals=300, shap_batch_size=20,
                                      preview_ig=False)
chelsea = window.intake.open_sample("chelsea")
window.explain(chelsea)
wait("explain: queued", lambda: chelsea.status == "queued", 10)
window.weights.use_untrained()
wait("untrained network: loaded", lambda: controller.model_state == "ready")
wait("queued job: running", lambda: chelsea.status == "explaining")
window.weights.use_untrained()
window.weights.use_untrained()  # twice, quickly, while the job runs
window.cancel_current()  # the loads wait behind the job; cancelling keeps this run short
wait("job: ended", lambda: chelsea.status in ("done", "cancelled", "failed"))
wait("switched twice: ready", lambda: controller.model_state == "ready"
     and controller.model_info is not None and controller.model_info.generation == 5)
window.close()  # cuts the last warm-up short
print("closed" if not controller.thread.isRunning() else "engine thread still running", flush=True)
sys.exit(0 if not controller.thread.isRunning() else 4)
