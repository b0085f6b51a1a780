"""The mouse wheel over the settings panel scrolls it; numbers change only in a focused field."""

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from gui.settings_panel import SettingsPanel


def wheel_down(widget) -> None:
    """One notch down, sent to the field (a real one lands on a spin box's inner line edit
    and Qt passes it up to the field; a sent one is delivered to its receiver only)."""
    target = widget
    centre = QPointF(target.rect().center())
    event = QWheelEvent(centre, QPointF(target.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, -120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)
    QApplication.sendEvent(target, event)


def test_wheel_over_unfocused_fields_scrolls_the_panel_and_changes_nothing(qtbot, clean_settings):
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    panel.resize(320, 300)  # much shorter than the form: it scrolls
    panel.show()
    qtbot.waitExposed(panel)
    bar = panel.verticalScrollBar()
    assert bar.maximum() > 0
    before = panel.settings()

    for name in ("classes", "shap_max_evals", "lime_segmentation", "methods"):
        field = panel.widgets[name]
        assert field.focusPolicy() == Qt.FocusPolicy.StrongFocus  # the wheel alone does not focus it
        assert not field.hasFocus()
        position = bar.value()
        wheel_down(field)
        assert panel.settings() == before, f"the wheel changed {name}"
        assert bar.value() > position or bar.value() == bar.maximum(), f"the panel did not scroll over {name}"
        bar.setValue(0)


def test_a_focused_field_still_takes_the_wheel(qtbot, clean_settings):
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    panel.resize(320, 300)
    panel.show()
    qtbot.waitExposed(panel)
    panel.activateWindow()
    spin = panel.widgets["classes"]
    spin.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(spin.hasFocus, timeout=5_000)
    start = spin.value()
    wheel_down(spin)
    assert spin.value() == start - 1
