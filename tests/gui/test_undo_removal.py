"""Edit ▸ Undo brings back what Remove image and Clear list took out, results and all."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu, QMessageBox

from gui_helpers import wait_until_done
from gui.removal_history import Removal, RemovalHistory, RemovedImage
from gui.shortcuts_dialog import plain


def _explained(window, qtbot, image_folder):
    """noise, region, flipped in the list; region (the middle row) explained, its second tab showing."""
    noise, region, flipped = window.add_paths([image_folder / n for n in ("noise.png", "region.png", "flipped.png")])
    window.image_list.select_key(region.key)
    window.explain(region)
    wait_until_done(qtbot, window, [region])
    assert region.status == "done" and set(region.results) == {"shap", "lime"}
    tabs = window.results_view.tabs_for(region.key)
    assert tabs.count() == 2
    tabs.setCurrentIndex(1)
    return noise, region, flipped


def _undo_text(window) -> str:
    return plain(window.chrome.undo_action.text())


def test_delete_then_undo_puts_the_image_back_with_its_results_in_its_row(window, qtbot, image_folder):
    noise, region, flipped = _explained(window, qtbot, image_folder)
    results, metrics = dict(region.results), dict(region.metrics)
    assert not window.chrome.undo_action.isEnabled() and _undo_text(window) == "Undo"

    window.chrome.remove_action.trigger()

    assert window.image_list.keys() == [noise.key, flipped.key] and region.key not in window.entries
    assert window.statusBar().currentMessage() == "Removed region.png — Ctrl+Z to undo"
    assert window.chrome.undo_action.isEnabled() and _undo_text(window) == "Undo Delete region.png"
    edit_menu = window.menuBar().findChild(QMenu, "editMenu")
    assert edit_menu.actions()[0] is window.chrome.undo_action

    window.activateWindow()  # a window shown by an earlier test may hold the keyboard
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Z

    assert window.image_list.keys() == [noise.key, region.key, flipped.key]
    assert list(window.entries) == [noise.key, region.key, flipped.key]
    assert window.entries[region.key] is region
    assert all(region.results[m] is results[m] for m in results) and set(region.results) == set(results)
    assert region.metrics == metrics
    assert window.image_list.current_key() == region.key
    assert window.image_list.status_text(region.key) == "done"
    tabs = window.results_view.tabs_for(region.key)
    assert tabs.count() == 2 and tabs.currentIndex() == 1
    assert window.results_view.current_tabs() is tabs  # its tabs are on screen again
    assert window.statusBar().currentMessage() == "Brought back region.png"
    assert not window.chrome.undo_action.isEnabled() and _undo_text(window) == "Undo"


def test_deleting_an_image_mid_job_cancels_it_and_undo_brings_back_the_finished_method(
        window, qtbot, image_folder):
    (entry,) = window.add_paths([image_folder / "region.png"])
    window.settings_panel.apply_overrides(methods="shap,lime", lime_samples=200_000)
    with qtbot.waitSignal(window.controller.resultReady, timeout=60_000,
                          check_params_cb=lambda job, e: e.method == "shap"):
        job = window.explain(entry)
    window.intake.remove_image(entry.key)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=30_000)
    assert job.state == "cancelled"

    (back,) = window.intake.undo_removal()

    assert back is entry and set(entry.results) == {"shap"}  # LIME never finished
    assert entry.status == "cancelled" and window.image_list.status_text(entry.key) == "cancelled"
    assert window.results_view.tabs_for(entry.key).count() == 2


class FakeQuestion:
    """Stands in for QMessageBox.exec: records each box it was asked to show, answers ``answer``."""

    def __init__(self, monkeypatch, answer) -> None:
        self.boxes, self.answer = [], answer

        def exec_(box):
            cancel = box.button(QMessageBox.StandardButton.Cancel)
            self.boxes.append((box.text(), box.defaultButton() is cancel))
            return int(self.answer.value)  # what the real exec() returns: the button as a number

        monkeypatch.setattr(QMessageBox, "exec", exec_)


def test_clear_with_results_asks_first_and_undo_brings_every_image_back(window, qtbot, image_folder, monkeypatch):
    noise, region, flipped = _explained(window, qtbot, image_folder)
    keys = [noise.key, region.key, flipped.key]

    question = FakeQuestion(monkeypatch, QMessageBox.StandardButton.Cancel)
    window.chrome.clear_action.trigger()
    assert len(question.boxes) == 1
    text, cancel_is_default = question.boxes[0]
    assert "Remove all 3 images" in text and "1 of them has explanations" in text
    assert cancel_is_default
    assert window.image_list.keys() == keys  # Cancel: nothing removed

    question.answer = QMessageBox.StandardButton.Yes
    window.chrome.clear_action.trigger()
    assert window.image_list.count() == 0 and not window.entries
    assert window.statusBar().currentMessage() == "Removed 3 images — Ctrl+Z to undo"
    assert _undo_text(window) == "Undo Clear (3 images)"

    window.chrome.undo_action.trigger()

    assert window.image_list.keys() == keys and list(window.entries) == keys
    assert set(region.results) == {"shap", "lime"}
    assert window.image_list.current_key() == region.key
    assert window.results_view.tabs_for(region.key).currentIndex() == 1
    assert window.statusBar().currentMessage() == "Brought back 3 images"


def test_clear_without_results_asks_nothing(window, image_folder, monkeypatch):
    question = FakeQuestion(monkeypatch, QMessageBox.StandardButton.Cancel)
    window.add_paths([image_folder / "noise.png", image_folder / "flipped.png"])
    window.chrome.clear_action.trigger()
    assert question.boxes == [] and not window.entries
    assert _undo_text(window) == "Undo Clear (2 images)"


def test_undo_goes_back_one_removal_at_a_time(window, image_folder):
    noise, region, flipped = window.add_paths([image_folder / n for n in ("noise.png", "region.png", "flipped.png")])
    window.intake.remove_image(noise.key)
    window.intake.remove_image(flipped.key)
    assert _undo_text(window) == "Undo Delete flipped.png"
    window.intake.undo_removal()
    assert window.image_list.keys() == [region.key, flipped.key]
    assert _undo_text(window) == "Undo Delete noise.png"
    window.intake.undo_removal()
    assert window.image_list.keys() == [noise.key, region.key, flipped.key]


def test_an_image_opened_again_is_not_brought_back_twice(window, image_folder):
    (noise,) = window.add_paths([image_folder / "noise.png"])
    window.intake.remove_image(noise.key)
    (again,) = window.add_paths([image_folder / "noise.png"])
    assert window.intake.undo_removal() == []
    assert list(window.entries) == [again.key]
    assert "noise.png already in the list" in window.statusBar().currentMessage()


def _removal(n: int, kind: str = "clear") -> Removal:
    import numpy as np

    from gui.image_entry import ImageEntry

    images = [RemovedImage(ImageEntry(name=f"i{k}", image=np.zeros((2, 2, 3), np.uint8), source="x"), k)
              for k in range(n)]
    return Removal(kind, images)


def test_the_history_is_bounded_in_levels_and_in_images():
    history = RemovalHistory(max_levels=20, max_images=100)
    removals = [_removal(1, "delete") for _ in range(25)]
    for removal in removals:
        history.push(removal)
    assert len(history) == 20 and history.peek() is removals[-1]
    history.push(_removal(90))
    assert history.image_count() <= 100 and len(history) == 11  # oldest singles dropped
    big = _removal(500)
    history.push(big)
    assert len(history) == 1 and history.pop() is big  # the newest one always stays
    assert history.pop() is None


@pytest.mark.parametrize("n, text", [(1, "Clear (1 image)"), (5, "Clear (5 images)")])
def test_what_undo_says(n, text):
    assert _removal(n).describe() == text


def test_results_of_another_model_are_not_brought_back(window, qtbot, image_folder):
    noise, region, flipped = _explained(window, qtbot, image_folder)
    window.intake.remove_image(region.key)
    window.intake.removal_history.peek().model_generation = -1  # as if another model had loaded since
    with qtbot.waitSignal(window.controller.predictionsReady, timeout=30_000,
                          check_params_cb=lambda key, _: key == region.key):
        window.intake.undo_removal()  # predicted again by the model in use
    assert region.results == {} and region.status == "ready"
    assert window.results_view.tabs_for(region.key) is None
    assert region.predictions


def test_a_preview_s_progress_does_not_hide_the_undo_hint(window, image_folder):
    from types import SimpleNamespace

    noise, region = window.add_paths([image_folder / "noise.png", image_folder / "region.png"])
    window.intake.remove_image(noise.key)
    window.controller.previewProgress.emit(SimpleNamespace(image_key=region.key), 3, 10)
    assert window.statusBar().currentMessage() == "Removed noise.png — Ctrl+Z to undo"
    window.statusBar().clearMessage()
    window.controller.previewProgress.emit(SimpleNamespace(image_key=region.key), 4, 10)
    assert window.statusBar().currentMessage() == "Integrated Gradients preview of region: 40% (Esc stops it)"
