"""Window latency: launch to window shown, and a dropped image to its top predictions.

    xvfb-run -a python -m bench.window_timing       (or QT_QPA_PLATFORM=offscreen)

Times are from this script's first line (interpreter start-up, ~0.05 s, comes before it).
Uses the untrained ResNet-50; the model loads behind the window as in the app.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402


def wait_for(signal, predicate=lambda *a: True, timeout_s: float = 300.0):
    from PySide6.QtCore import QEventLoop, QTimer

    loop, seen = QEventLoop(), []

    def on_signal(*args):
        if predicate(*args):
            seen.append(args)
            loop.quit()

    signal.connect(on_signal)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    signal.disconnect(on_signal)
    if not seen:
        raise TimeoutError(f"no {signal} within {timeout_s} s")
    return seen[0]


def main() -> int:
    from engine.runtime import prepare_environment

    prepare_environment()
    from PySide6.QtTest import QTest

    from engine.cli import build_parser
    from gui.app import application, build_window, start

    args = build_parser().parse_args(["gui", "--weights", "none"])
    app = application()
    window = build_window(args)
    window.show()
    QTest.qWaitForWindowExposed(window)
    app.processEvents()
    shown_s = time.perf_counter() - STARTED
    keras_loaded_at_show = "keras" in sys.modules

    start(window, args)
    controller = window.controller
    wait_for(controller.modelReady)
    if controller.warming_up:  # the explainers warm up after the model loads
        wait_for(controller.preparing, lambda active: not active)
    ready_s = time.perf_counter() - STARTED

    from PIL import Image
    from skimage import data

    folder = Path(tempfile.mkdtemp())
    latencies = []
    for name in ("chelsea", "coffee", "astronaut", "rocket", "camera"):
        path = folder / f"{name}.png"
        Image.fromarray(getattr(data, name)()).save(path)
        began = time.perf_counter()
        entries = window.add_paths([str(path)])
        key = entries[0].key
        wait_for(controller.predictionsReady, lambda k, _p: k == key)
        latencies.append(time.perf_counter() - began)
    result = {"window_shown_s": round(shown_s, 3), "keras_imported_before_shown": keras_loaded_at_show,
              "model_ready_and_warm_s": round(ready_s, 2),
              "predictions_s": [round(x, 3) for x in latencies],
              "predictions_median_s": round(statistics.median(latencies), 3),
              "predictions_max_s": round(max(latencies), 3)}
    print(json.dumps(result))
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
