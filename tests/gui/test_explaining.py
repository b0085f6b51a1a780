"""Explaining fills one tab per class with a drawn canvas; results stay with their image."""

import numpy as np
from gui_helpers import REGION_LABELS, assert_canvas_rendered, wait_until_done
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QTabWidget


def test_explain_gives_one_tab_per_class_and_the_queued_image_completes(window, qtbot, image_folder):
    first, second = window.add_paths([image_folder / "region.png", image_folder / "flipped.png"])
    assert window.current_entry() is first
    jobs = window.explain_all()
    assert [j.image_key for j in jobs] == [first.key, second.key]
    # The second image waits in the queue while the first runs.
    assert second.status == "queued"
    assert window.image_list.status_text(second.key).startswith("queued")
    assert window.progress_panel.queue.text() == "1 waiting"
    with qtbot.waitSignal(window.controller.jobStarted, timeout=30_000):
        pass
    wait_until_done(qtbot, window, [first, second])
    assert first.status == second.status == "done"
    assert window.image_list.status_text(first.key) == "done"
    assert set(first.results) == {"shap", "lime"}

    tabs = window.results_view.current_tabs()
    assert isinstance(tabs, QTabWidget) and tabs is window.results_view.tabs_for(first.key)
    # The known-answer model is sure about "bright region" for this picture: it comes first.
    assert [tabs.tabText(i) for i in range(tabs.count())] == REGION_LABELS
    for index in range(tabs.count()):
        assert_canvas_rendered(qtbot, tabs, index)
        canvas = tabs.widget(index)
        titles = [ax.get_title() for ax in canvas.figure.axes]
        assert "input 64×64" in titles and "SHAP (Partition)" in titles and "LIME" in titles

    # The queued image has its own tabs, in its own order (its decisive square is dark).
    window.image_list.select_key(second.key)
    other = window.results_view.current_tabs()
    assert other is window.results_view.tabs_for(second.key) and other is not tabs
    assert other.count() == 2
    assert_canvas_rendered(qtbot, other, 0)
    assert window.progress_panel.queue.text() == ""
    assert "Done" in window.progress_panel.title.text()


def test_going_back_to_a_finished_image_is_instant(window, qtbot, image_folder):
    first, second = window.add_paths([image_folder / "region.png", image_folder / "noise.png"])
    window.explain_all()
    wait_until_done(qtbot, window, [first, second])
    first_tabs = window.results_view.tabs_for(first.key)
    first_canvas = first_tabs.currentWidget()
    renders = first_canvas.render_count
    assert renders > 0
    started = []
    window.controller.jobStarted.connect(started.append)
    submitted = []
    original_submit = window.controller.submit
    window.controller.submit = lambda *a, **k: submitted.append(a) or original_submit(*a, **k)
    try:
        window.image_list.select_key(second.key)
        assert window.results_view.current_tabs() is window.results_view.tabs_for(second.key)
        window.image_list.select_key(first.key)
        # No waiting: the same tab widget and canvas are back at once, already drawn.
        assert window.results_view.current_tabs() is first_tabs
        assert window.results_view.current_canvas() is first_canvas
        assert first_canvas.render_count >= renders
        assert first_canvas.figure.axes
        assert window.predictions_view.shown_predictions()[0][0] == "bright region"
    finally:
        del window.controller.submit
        window.controller.jobStarted.disconnect(started.append)
    assert not submitted and not started and not window.controller.busy


def test_lime_view_change_redraws_without_recomputing(window, qtbot, image_folder):
    (entry,) = window.add_paths([image_folder / "region.png"])
    window.explain(entry)
    wait_until_done(qtbot, window, [entry])
    canvas = window.results_view.current_canvas()
    qtbot.waitUntil(lambda: canvas.render_count > 0)
    before_pixels = canvas.rendered_pixels().copy()
    before = canvas.render_count
    lime_before = entry.results["lime"]
    combo = window.settings_panel.widgets["lime_view"]
    combo.setCurrentIndex(combo.findData("hide_rest"))
    qtbot.waitUntil(lambda: canvas.render_count > before, timeout=5_000)
    assert not window.controller.busy
    assert entry.results["lime"] is lime_before  # same result object: nothing recomputed
    assert not np.array_equal(before_pixels, canvas.rendered_pixels())
    assert window.results_view.lime_view.mode == "hide_rest"


def test_ctrl_e_explains_the_current_image(window, qtbot, image_folder):
    (entry,) = window.add_paths([image_folder / "noise.png"])
    window.activateWindow()
    with qtbot.waitSignal(window.controller.jobFinished, timeout=60_000):
        qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert entry.status == "done"


def test_export_figure_and_maps(window, qtbot, image_folder, tmp_path, monkeypatch):
    (entry,) = window.add_paths([image_folder / "region.png"])
    window.explain(entry)
    wait_until_done(qtbot, window, [entry])
    for suffix, magic in ((".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")):
        target = tmp_path / f"figure{suffix}"
        monkeypatch.setattr(QFileDialog, "getSaveFileName",
                            staticmethod(lambda *a, t=target, **k: (str(t), "")))
        assert window.export_figure() == target
        assert target.read_bytes().startswith(magic)

    out = tmp_path / "maps"
    out.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(out)))
    written = window.export_maps()
    names = sorted(p.name for p in written)
    assert "region.shap.npz" in names and "region.lime.json" in names and "region.shap.0-bright_region.png" in names
    assert len(names) == 2 * (2 + 2)  # per method: json, npz and one PNG per class

    # Existing files are never overwritten without asking; "No" leaves them alone.
    marker = out / "region.shap.json"
    marker.write_text("keep me")
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No))
    assert window.export_maps() == []
    assert asked and marker.read_text() == "keep me"
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    assert window.export_maps()
    assert marker.read_text() != "keep me"
