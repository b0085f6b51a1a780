"""Scrolling a form with the mouse wheel must not change the numbers it passes over.

Spin boxes, combo boxes and sliders take the wheel only once they have the keyboard focus
(clicked or tabbed into); over an unfocused field the wheel scrolls the surrounding scroll
area, as in careful desktop apps.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSlider, QAbstractSpinBox, QComboBox, QWidget

WHEEL_FIELDS = (QAbstractSpinBox, QComboBox, QAbstractSlider)


class WheelGuard(QObject):
    """An event filter: the wheel over an unfocused field goes to ``scroll_area`` instead."""

    def __init__(self, scroll_area: QAbstractScrollArea) -> None:
        super().__init__(scroll_area)
        self._scroll_area = scroll_area

    def guard(self, root: QWidget) -> None:
        """Every wheel-driven field under ``root`` (call again after adding fields)."""
        for kind in WHEEL_FIELDS:
            for field in root.findChildren(kind):
                if field.property("wheelGuarded"):
                    continue
                field.setProperty("wheelGuarded", True)
                # StrongFocus: click or Tab focuses the field, the wheel alone does not.
                field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
                field.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt naming
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget) or watched.hasFocus():
            return False
        # The viewport scrolls the area (the scroll bar is what moves, not the value).
        QCoreApplication.sendEvent(self._scroll_area.viewport(), event)
        return True
