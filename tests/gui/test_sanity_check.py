"""Explain ▸ Sanity check in the window: runs on the engine thread with progress, shows the
strip of maps with each step's numbers, can be cancelled, and leaves the model's weights
exactly as they were."""

import numpy as np
from gui_helpers import read_json, wait_until_done

from engine.sanity import json_summary

from gui.sanity_actions import SANITY_SHORTCUT


def _weights(window):
    return [w.copy() for w in window.controller.worker._classifier.keras_model.get_weights()]


def test_sanity_check_shows_the_strip_and_restores_the_model(window, qtbot, image_folder, tmp_path):
    window.settings_panel.apply_overrides(methods="lime")
    (entry,) = window.add_paths([image_folder / "region.png"])
    window.explain(entry)
    wait_until_done(qtbot, window, [entry])
    before = _weights(window)
    assert window.sanity.action.isEnabled()
    assert window.sanity.action.shortcut().toString() == SANITY_SHORTCUT
    assert "Sanity check" in [a.text().replace("&", "") for m in window.menuBar().actions()
                              if m.menu() for a in m.menu().actions()]

    progress = []
    window.controller.sanityProgress.connect(lambda job: progress.append((job.done, job.total)))
    with qtbot.waitSignal(window.controller.sanityFinished, timeout=120_000) as finished:
        window.sanity.action.trigger()
        assert not window.sanity.action.isEnabled()  # one check at a time
    (job,) = finished.args
    assert job.state == "done" and set(job.results) == {"lime"}
    assert progress and [d for d, _ in progress] == sorted(d for d, _ in progress)
    view = window.sanity.view
    assert view.isVisible() and "weights are the model's own again" in view.status.text()
    # The strip: the original map, then the known-answer model's one layer randomised.
    result = job.results["lime"]
    k = result["classes"].index(view.class_index)
    titles = [ax.get_title() for ax in view.canvas.figure.axes if ax.title.get_gid() == "sanity-step"]
    assert titles == [f"random to decision\nρ {result['spearman'][0][k]:.2f} · SSIM {result['ssim'][0][k]:.2f}"]
    assert all(np.array_equal(a, b) for a, b in zip(before, _weights(window)))
    assert window.sanity.action.isEnabled()

    # Exporting the image's maps writes the check too, as ``explain --sanity --out`` does.
    written = window.export_maps(tmp_path / "with")
    assert tmp_path / "with" / f"{entry.name}.lime.json" in written
    summary = read_json(tmp_path / "with" / f"{entry.name}.lime.json")
    assert summary["sanity"] == json_summary(result)
    with np.load(tmp_path / "with" / f"{entry.name}.lime.npz", allow_pickle=False) as arrays:
        np.testing.assert_array_equal(arrays["sanity_maps"], result["maps"])
    # Explained again: the check was of the old map, so the new export has none.
    window.explain(entry)
    wait_until_done(qtbot, window, [entry])
    window.export_maps(tmp_path / "again")
    assert "sanity" not in read_json(tmp_path / "again" / f"{entry.name}.lime.json")


def test_sanity_check_can_be_cancelled(window, qtbot, image_folder):
    window.settings_panel.apply_overrides(methods="lime", lime_samples=2000)
    (entry,) = window.add_paths([image_folder / "region.png"])
    window.explain(entry)
    wait_until_done(qtbot, window, [entry])
    first = entry.results["lime"]
    with qtbot.waitSignal(window.controller.sanityProgress, timeout=120_000):
        job = window.sanity.check()
    with qtbot.waitSignal(window.controller.sanityFinished, timeout=30_000):
        window.sanity.view.cancel.click()
    assert job.state == "cancelled" and job.results == {}
    assert "Cancelled" in window.sanity.view.status.text()
    # The engine runs one thing at a time: once the next explanation is done, the cancelled
    # check has unwound, and the model answers as before it (same seed, same map).
    window.explain(entry)
    wait_until_done(qtbot, window, [entry])
    assert entry.results["lime"] is not first
    np.testing.assert_array_equal(entry.results["lime"].maps, first.maps)
