"""Cancel stops a job within one model batch; failures are shown; the app keeps working."""

import threading
import time

import pytest
from gui_helpers import wait_until_done
from PySide6.QtCore import Qt

import engine.explain
from engine.errors import ModelError
from engine.explain.guard import GuardedPredict


@pytest.fixture
def batch_log(monkeypatch):
    """Records when each model batch starts and ends (in the engine thread)."""
    calls = []
    lock = threading.Lock()
    original = GuardedPredict.__call__

    def logged(self, images):
        started = time.perf_counter()
        result = original(self, images)  # raises Cancelled before evaluating: not logged
        with lock:
            calls.append((started, time.perf_counter(), len(images)))
        return result

    monkeypatch.setattr(GuardedPredict, "__call__", logged)
    return calls


@pytest.mark.parametrize("method", ["shap", "lime"])
def test_cancel_stops_within_one_batch_and_the_next_job_runs(window, qtbot, image_folder, batch_log, method):
    (entry,) = window.add_paths([image_folder / "region.png"])
    # A job far too long to finish during the test.
    window.settings_panel.apply_overrides(methods=method, shap_max_evals=200_000, lime_samples=200_000,
                                          shap_batch_size=25)
    job = window.explain(entry)
    with qtbot.waitSignal(window.controller.jobProgress, timeout=60_000,
                          check_params_cb=lambda j: j.done > 0):
        pass
    assert entry.status == "explaining" and window.chrome.cancel_action.isEnabled()
    assert "%" in window.image_list.status_text(entry.key)
    window.activateWindow()
    with qtbot.waitSignal(window.controller.jobCancelled, timeout=30_000) as cancelled:
        cancel_time = time.perf_counter()
        qtbot.keyClick(window, Qt.Key.Key_Escape)  # Esc = Cancel
    assert cancelled.args[0] is job
    assert job.state == "cancelled"
    assert 0 < job.done < job.total
    # Within one batch: no batch started after the cancel, at most the one in flight ended after it.
    assert not [c for c in batch_log if c[0] > cancel_time]
    assert len([c for c in batch_log if c[1] > cancel_time]) <= 1
    assert entry.status == "cancelled" and not entry.results
    assert window.image_list.status_text(entry.key) == "cancelled"
    assert "Cancelled" in window.progress_panel.title.text()
    # One count after the cancel: the bar and the title give the engine's own.
    assert f"after {job.done} of {job.total} evaluations" in window.progress_panel.title.text()
    assert window.progress_panel.bar.value() == job.done and window.progress_panel.bar.maximum() == job.total

    # The app is still usable: the next job runs to the end.
    window.settings_panel.apply_overrides(methods="shap,lime", shap_max_evals=120, lime_samples=120)
    window.explain(entry)
    wait_until_done(qtbot, window, [entry])
    assert entry.status == "done" and set(entry.results) == {"shap", "lime"}


def test_cancelling_a_queued_job_removes_it_from_the_queue(window, qtbot, image_folder):
    first, second = window.add_paths([image_folder / "region.png", image_folder / "flipped.png"])
    window.settings_panel.apply_overrides(methods="shap", shap_max_evals=200_000)
    running = window.explain(first)
    queued = window.explain(second)
    assert window.progress_panel.queue.text() == "1 waiting"
    window.controller.cancel(queued.job_id)
    assert queued.state == "cancelled" and second.status == "cancelled"
    assert window.progress_panel.queue.text() == ""
    with qtbot.waitSignal(window.controller.jobStarted, timeout=30_000):
        pass
    window.controller.cancel(running.job_id)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=30_000)
    assert first.status == "cancelled"


def test_a_failing_job_is_shown_and_the_next_job_runs(window, qtbot, image_folder, monkeypatch):
    first, second = window.add_paths([image_folder / "region.png", image_folder / "noise.png"])

    def broken_model(*args, **kwargs):
        raise ModelError("region.keras: the model failed to run: simulated failure")

    monkeypatch.setitem(engine.explain.METHODS, "shap", (broken_model, engine.explain.METHODS["shap"][1]))
    with qtbot.waitSignal(window.controller.jobFailed, timeout=30_000) as failed:
        window.explain(first)
    assert "simulated failure" in failed.args[1]
    assert first.status == "failed" and first.error == failed.args[1]
    assert window.image_list.status_text(first.key) == "failed"
    assert "simulated failure" in window.banner.text()
    assert "simulated failure" in window.statusBar().currentMessage()
    assert window.controller.thread.isRunning()

    monkeypatch.undo()
    window.explain(second)
    wait_until_done(qtbot, window, [second])
    assert second.status == "done"


def test_an_unexpected_exception_becomes_one_line(window, qtbot, image_folder, monkeypatch):
    (entry,) = window.add_paths([image_folder / "region.png"])

    def bug(*args, **kwargs):
        raise KeyError("weights\nwith a second line")

    monkeypatch.setitem(engine.explain.METHODS, "lime", (bug, engine.explain.METHODS["lime"][1]))
    window.settings_panel.apply_overrides(methods="lime")
    with qtbot.waitSignal(window.controller.jobFailed, timeout=30_000) as failed:
        window.explain(entry)
    assert failed.args[1].startswith("KeyError") and "\n" not in failed.args[1]
