"""Helpers shared by the GUI tests (waiting, checking canvases)."""

import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REGION_LABELS = ["bright region", "dark region"]
# Small but real settings: every job in these tests takes a second or two. No IG preview:
# tests of other features count exactly the results their jobs make.
FAST = dict(methods="shap,lime", classes=2, shap_max_evals=120, shap_batch_size=40,
            lime_samples=120, lime_segmentation="slic", seed=0, preview_ig=False)


@contextmanager
def window_for_model(model_file: Path, show: bool = True):
    """A window of its own on a saved test model (with ``labels.txt`` beside it). Windows
    that are not shown leave the keyboard focus to the shared one that keyboard tests drive;
    their canvases are built on demand (``ensure_built``), as for export."""
    from gui.engine_requests import ModelRequest
    from gui.main_window import MainWindow

    window = MainWindow(ModelRequest(model=str(model_file), labels=str(model_file.with_name("labels.txt"))),
                        restore_layout=False)
    if show:
        window.show()
    window.start()
    try:
        yield window
    finally:
        window.close()
    assert not window.controller.thread.isRunning()


def wait_until_ready(qtbot, window, timeout=120_000) -> None:
    """Until the window's model is loaded and its explainers have warmed up."""
    controller = window.controller
    qtbot.waitUntil(lambda: controller.model_state == "ready" and not controller.warming_up, timeout=timeout)


def reset(window, qtbot) -> None:
    window.controller.cancel_all()
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=60_000)
    window.intake.remove_all_images()
    window.intake.removal_history.clear()  # each test starts with nothing to undo
    window.intake.update_undo_action()
    window.banner.dismiss()


def wait_until_done(qtbot, window, entries, timeout=120_000) -> None:
    qtbot.waitUntil(lambda: all(e.status in ("done", "failed", "cancelled") for e in entries)
                    and not window.controller.busy, timeout=timeout)


def drawn_images(canvas) -> int:
    return sum(len(ax.images) for ax in canvas.figure.axes)


def assert_canvas_rendered(qtbot, tabs, index) -> None:
    """Make the tab current, wait for its canvas to render, check real pixels were drawn."""
    tabs.setCurrentIndex(index)
    canvas = tabs.widget(index)
    qtbot.waitUntil(lambda: canvas.render_count > 0, timeout=10_000)
    assert canvas.figure.axes, "no axes drawn"
    assert drawn_images(canvas) >= 2, "the figure shows no images"
    pixels = canvas.rendered_pixels()[..., :3]
    assert pixels.size and pixels.std() > 10, "the canvas buffer is blank"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def longest_gap(window, qtbot, start_jobs, entries, timeout=120_000) -> tuple[float, int]:
    """Run ``start_jobs()`` with a 10 ms QTimer ticking in the GUI thread; return the longest
    time between ticks (seconds) from the first job start until every entry is done."""
    import time

    from PySide6.QtCore import QTimer

    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    span = {}

    def started(job):
        span.setdefault("start", time.perf_counter())

    window.controller.jobStarted.connect(started)
    timer.start()
    try:
        start_jobs()
        wait_until_done(qtbot, window, entries, timeout=timeout)
        span["end"] = time.perf_counter()
    finally:
        timer.stop()
        window.controller.jobStarted.disconnect(started)
    inside = [t for t in ticks if span["start"] <= t <= span["end"]]
    points = [span["start"], *inside, span["end"]]
    return max(b - a for a, b in zip(points, points[1:])), len(inside)
