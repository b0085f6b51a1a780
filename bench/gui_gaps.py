"""Event-loop gaps in the window while SHAP, LIME, previews and Compare run.

    QT_QPA_PLATFORM=offscreen python -m bench.gui_gaps      (or under xvfb-run -a)

A 10 ms QTimer ticks in the GUI thread; every gap between ticks longer than the interval is
time the window could not answer input. Reports the longest gap and the 99th percentile for
each phase, and the GUI thread's own time per canvas paint (figures are built and rendered
on the drawing thread, so a paint only copies pixels). Uses the untrained ResNet-50.

While a tick is more than ``LATE_MS`` late, a watcher thread samples where the GUI thread
is (its Python stack): the report lists the places the long gaps were spent in, so a stall
says what caused it.
"""

from __future__ import annotations

import collections
import json
import statistics
import sys
import threading
import time
import traceback

LATE_MS = 60  # a tick this late is a stall worth locating
SAMPLE_S = 0.005


class StallWatcher:
    """Samples the GUI thread's stack while its timer is late; counts where it was."""

    def __init__(self, gui_thread: int):
        self._gui = gui_thread
        self.last_tick = time.perf_counter()
        self.places: collections.Counter = collections.Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def tick(self) -> None:
        self.last_tick = time.perf_counter()

    def _watch(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            if (time.perf_counter() - self.last_tick) * 1000 < LATE_MS:
                continue
            frame = sys._current_frames().get(self._gui)
            if frame is None:
                continue
            stack = traceback.extract_stack(frame)[-6:]
            self.places[" <- ".join(f"{f.name} ({f.filename.rsplit('/', 1)[-1]}:{f.lineno})"
                                    for f in reversed(stack))] += 1

    def top(self, count: int = 8) -> list[dict]:
        return [{"samples": n, "ms": round(n * SAMPLE_S * 1000), "stack": place}
                for place, n in self.places.most_common(count)]

    def stop(self) -> None:
        self._stop.set()


def main() -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from gui.engine_requests import ModelRequest
    from gui.main_window import MainWindow

    window = MainWindow(ModelRequest(weights="none"), restore_layout=False)
    window.resize(1280, 720)
    window.show()
    window.start()
    controller = window.controller

    def wait(condition, timeout=600):
        deadline = time.monotonic() + timeout
        while not condition():
            app.processEvents()
            time.sleep(0.002)
            if time.monotonic() > deadline:
                raise TimeoutError("the window did not get there in time")

    wait(lambda: controller.model_state == "ready" and not controller.warming_up)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    watcher = StallWatcher(threading.get_ident())

    def on_tick() -> None:
        ticks.append(time.perf_counter())
        watcher.tick()

    timer.timeout.connect(on_tick)
    window.settings_panel.apply_overrides(methods="shap,lime", classes=2, shap_max_evals=300,
                                          shap_batch_size=50, lime_samples=300, preview_ig=True)
    phases = {}

    def phase(name, start, done):
        ticks.clear()
        watcher.places.clear()
        watcher.tick()
        timer.start()
        begun = time.perf_counter()
        start()
        wait(done)
        ticks.append(time.perf_counter())
        timer.stop()
        gaps = [b - a for a, b in zip([begun, *ticks], ticks)]
        gaps.sort()
        phases[name] = {"seconds": round(ticks[-1] - begun, 1), "ticks": len(ticks),
                        "longest_gap_ms": round(gaps[-1] * 1000, 1),
                        "p99_gap_ms": round(gaps[int(0.99 * (len(gaps) - 1))] * 1000, 1),
                        "stalled_in": watcher.top()}

    entry = window.open_sample("chelsea")
    phase("previews (Grad-CAM, IG)", lambda: None,
          lambda: entry.predictions is not None and not controller.previews_pending)
    phase("SHAP + LIME job", lambda: window.explain(entry),
          lambda: entry.status in ("done", "failed", "cancelled") and not controller.busy)
    view = window.results_view
    tabs = view.tabs_for(entry.key)
    canvases = [tabs.widget(i) for i in range(tabs.count())]
    phase("Compare view", lambda: view.set_mode("compare"),
          lambda: not any(c.render_pending for c in canvases))
    phase("next class tab", lambda: view.step_tab(1), lambda: not any(c.render_pending for c in canvases))
    paints = [ms for c in canvases for ms in c.gui_thread_ms]
    report = {"phases": phases,
              "paint_ms": {"count": len(paints), "longest": round(max(paints, default=0), 2),
                           "median": round(statistics.median(paints), 2) if paints else 0}}
    print(json.dumps(report, indent=2))
    watcher.stop()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
