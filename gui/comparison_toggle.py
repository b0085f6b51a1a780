"""The "Side by side | Compare" switch in the corner of an image's class tabs.

Side by side draws each method on its own colour scale (``engine.render.draw_class``);
Compare draws every method for the class on one scale with their agreement and faithfulness
(``engine.render.draw_comparison``). The choice applies to every tab and image.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QToolButton, QWidget

MODE_TEXTS = {"side": "Side by side", "compare": "Compare"}
MODE_TIPS = {
    "side": "Each method on its own colour scale, with its colour bar and scores",
    "compare": "Every method on one colour scale, with their agreement (rank correlation, "
               "top-10% overlap) and faithfulness; the most faithful is marked (Ctrl+Shift+M)",
}


class ViewToggle(QWidget):
    modeChanged = Signal(str)  # "side" | "compare", only when the person clicks

    def __init__(self, mode: str = "side", parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("viewToggle")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 8, 0)
        layout.setSpacing(0)
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        for name, text in MODE_TEXTS.items():
            button = QToolButton()
            button.setObjectName(f"view:{name}")
            button.setText(text)
            button.setToolTip(MODE_TIPS[name])
            button.setCheckable(True)
            button.setAutoRaise(False)
            button.clicked.connect(lambda _=False, n=name: self.modeChanged.emit(n))
            self._group.addButton(button)
            layout.addWidget(button)
            self.buttons[name] = button
        self.set_mode(mode)

    def mode(self) -> str:
        return next(name for name, button in self.buttons.items() if button.isChecked())

    def set_mode(self, mode: str) -> None:
        """Show ``mode`` as chosen, without emitting (the view already knows)."""
        self.buttons[mode].setChecked(True)
