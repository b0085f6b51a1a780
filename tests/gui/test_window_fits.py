"""The window fits a laptop screen and keeps every main control inside it at 1280×720 and
1920×1080."""

import pytest
from PySide6.QtCore import QRect, QSize

from gui.window_size import fitted_size


@pytest.mark.parametrize("screen", [(1280, 720), (1920, 1080), (1366, 768)])
def test_default_size_is_shrunk_to_the_screen(screen):
    available = QRect(0, 0, *screen)
    size = fitted_size(QSize(1400, 900), available, QSize(979, 516))
    assert size.width() <= screen[0] and size.height() <= screen[1]
    assert size.width() >= 979 and size.height() >= 516
    if screen == (1920, 1080):
        assert size == QSize(1400, 900)  # room to spare: the preferred size stands


def test_never_below_the_minimum_the_layout_needs():
    assert fitted_size(QSize(1400, 900), QRect(0, 0, 800, 600), QSize(979, 516)) == QSize(979, 576)


def _inside(widget, window) -> bool:
    top_left = widget.mapTo(window, widget.rect().topLeft())
    return window.rect().contains(QRect(top_left, widget.size()))


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_main_controls_lie_inside_the_window(window, qtbot, size):
    window.resize(*size)
    qtbot.waitUntil(lambda: window.size().toTuple() == size, timeout=5_000)
    qtbot.wait(50)
    controls = {"Explain": window.explain_button, "Explain all": window.explain_all_button,
                "progress": window.progress_panel, "status bar": window.statusBar(),
                "results": window.results_view}
    outside = [name for name, widget in controls.items() if not widget.isVisible() or not _inside(widget, window)]
    assert not outside, f"at {size}: not fully inside the window: {outside}"


def test_a_long_timing_line_is_elided_not_widening_the_window(window, qtbot):
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: window.width() == 1280, timeout=5_000)
    label = window.results_view.summary_label
    long_text = "   ·   ".join(f"Method {i}: 1000 evals, 10.0 s" for i in range(40))
    label.setText(long_text)
    qtbot.wait(50)
    assert window.width() == 1280 and window.minimumSizeHint().width() < 1280
    assert label.toolTip() == long_text
    assert label.elided_text().endswith("…") and len(label.elided_text()) < len(long_text)


def test_a_long_banner_message_wraps_and_is_cut_never_widening_the_window(window, qtbot):
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: window.width() == 1280, timeout=5_000)
    labels = ", ".join(f"class_{i:04d}" for i in range(1000))
    message = f"evaluation: these labels are not among the model's classes: {labels}; " + "x" * 400
    window.banner.show_message(message, "error", topic="long")
    qtbot.wait(100)
    strip = window.banner.strip("long")
    assert window.width() == 1280 and window.minimumSizeHint().width() < 1280
    assert strip.isVisible() and strip.width() <= window.width()
    assert _inside(strip, window)
    assert strip.label.toolTip() == message and window.banner.text() == message  # nothing lost
    assert strip.label.text().endswith("…") and len(strip.label.text()) < len(message)
    assert strip.height() < window.height() / 4  # the results keep their room
    window.banner.dismiss("long")


def test_the_lime_panel_arriving_does_not_widen_the_window(window, qtbot, image_folder):
    from gui_helpers import wait_until_done

    window.resize(1280, 720)
    qtbot.waitUntil(lambda: window.width() == 1280, timeout=5_000)
    (entry,) = window.add_paths([image_folder / "region.png"])
    widths = []
    window.controller.jobFinished.connect(lambda *_: widths.append(window.width()))
    window.explain(entry)
    wait_until_done(qtbot, window, [entry])
    assert "lime" in entry.results
    canvas = window.results_view.current_canvas()
    qtbot.waitUntil(lambda: not canvas.render_pending, timeout=10_000)
    qtbot.wait(50)
    assert window.width() == 1280 and all(w == 1280 for w in widths)
    assert window.minimumSizeHint().width() < 1280
    assert _inside(window.results_view, window) and canvas.width() <= window.width()
