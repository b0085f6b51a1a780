"""Results kept between launches: an image explained before, with the same model and
settings, shows its stored result at once (marked with its date); Clear stored results
forgets them; a different setting computes afresh."""

import time

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from gui_helpers import FAST, wait_until_done, wait_until_ready, window_for_model


@pytest.fixture
def keeping(window):
    window.stored_results.keep_action.setChecked(True)
    window.settings_panel.apply_overrides(methods="lime")
    yield window
    window.stored_results.keep_action.setChecked(False)


def _explain(window, qtbot, path):
    (entry,) = window.add_paths([path])
    job = window.explain(entry)
    wait_until_done(qtbot, window, [entry])
    assert entry.status == "done", entry.error
    return entry, job


def _forget_all(window, qtbot, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    messages = []
    window.controller.storeCleared.connect(lambda count, message: messages.append(count))
    window.stored_results.clear_action.trigger()
    qtbot.waitUntil(lambda: bool(messages), timeout=30_000)
    return messages[0]


def test_a_result_comes_back_from_the_store_after_a_relaunch(keeping, qtbot, image_folder, region_model_file,
                                                              monkeypatch):
    window = keeping
    _forget_all(window, qtbot, monkeypatch)
    first, job = _explain(window, qtbot, image_folder / "region.png")
    computed = first.results["lime"]
    assert "stored_at" not in computed.timings and job.done >= window.settings_panel.settings().lime_samples

    # A second window is a second launch: a new engine thread, the store read from disk.
    with window_for_model(region_model_file, show=False) as relaunched:
        wait_until_ready(qtbot, relaunched)
        relaunched.settings_panel.apply_overrides(**{**FAST, "methods": "lime"})
        assert relaunched.stored_results.keep_action.isChecked()  # the choice was remembered
        again, _ = _explain(relaunched, qtbot, image_folder / "region.png")
        stored = again.results["lime"]
        assert stored.timings["stored_at"] <= time.time()
        np.testing.assert_array_equal(stored.maps, computed.maps)
        assert stored.classes == computed.classes
        assert "stored 20" in relaunched.results_view.summary_label.text()
        assert relaunched.progress_panel.bar.format() == "stored results: nothing to compute"

    # Another setting is another result: computed, not taken from the store.
    window.settings_panel.apply_overrides(lime_samples=window.settings_panel.settings().lime_samples + 20)
    window.intake.remove_all_images()
    other, _ = _explain(window, qtbot, image_folder / "region.png")
    assert "stored_at" not in other.results["lime"].timings


def test_clear_stored_results_forgets_them(keeping, qtbot, image_folder, monkeypatch):
    window = keeping
    _forget_all(window, qtbot, monkeypatch)
    _explain(window, qtbot, image_folder / "flipped.png")
    window.intake.remove_all_images()
    reused, _ = _explain(window, qtbot, image_folder / "flipped.png")
    assert "stored_at" in reused.results["lime"].timings
    assert _forget_all(window, qtbot, monkeypatch) >= 1
    assert "Cleared" in window.statusBar().currentMessage()
    window.intake.remove_all_images()
    computed, _ = _explain(window, qtbot, image_folder / "flipped.png")
    assert "stored_at" not in computed.results["lime"].timings


def test_nothing_is_stored_when_keeping_is_off(window, qtbot, image_folder):
    window.settings_panel.apply_overrides(methods="lime")
    assert not window.stored_results.keep_action.isChecked()
    _explain(window, qtbot, image_folder / "noise.png")
    window.intake.remove_all_images()
    again, _ = _explain(window, qtbot, image_folder / "noise.png")
    assert "stored_at" not in again.results["lime"].timings

