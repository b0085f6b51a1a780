"""Non-modal message strips above the results: errors and notices that must not block.

Modal dialogs would stop a screenshot run or a test; a banner tells the person what went
wrong and what they can do (buttons), while the app keeps working. Messages about different
things (the model, the files just dropped, a failed job) stack, one strip per topic, so a
later message never hides an earlier one about something else.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

STYLES = {
    "error": "background: #fdecea; border: 1px solid #f5c2bd; color: #5f1d16;",
    "warning": "background: #fff6e0; border: 1px solid #f0d89a; color: #4d3b00;",
    "info": "background: #e8f1fb; border: 1px solid #bcd6f2; color: #123a63;",
}
MAX_STRIPS = 3
# A message longer than this (an evaluation listing a thousand labels) is cut, in full in the
# tooltip: a strip of fifty lines would push the results off the window.
MAX_CHARS = 300
LONG_WORD = 60  # longer runs without a space are broken, or the label could not wrap them


def shown_text(text: str) -> str:
    """``text`` as the strip shows it: runs without spaces broken, cut at MAX_CHARS."""
    words = []
    for word in text.split(" "):
        while len(word) > LONG_WORD:
            words.append(word[:LONG_WORD])
            word = word[LONG_WORD:]
        words.append(word)
    shown = " ".join(words)
    return shown if len(shown) <= MAX_CHARS else shown[: MAX_CHARS - 1].rstrip() + "…"


class BannerStrip(QFrame):
    """One message, its action buttons and a close button."""

    def __init__(self, topic: str, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.topic = topic
        self.level = "info"
        self.label = QLabel()
        self.label.setObjectName("bannerText")
        self.label.setWordWrap(True)
        # The window decides the width, the text wraps in it: a long line never widens the window.
        policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.label.setSizePolicy(policy)
        self.label.setMinimumWidth(1)
        self.full_text = ""
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(12, 6, 6, 6)
        self._layout.setSpacing(8)
        self._layout.addWidget(self.label, 1)
        self._layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.buttons: list[QPushButton] = []

    def set_message(self, text: str, level: str, actions, details: str = "") -> None:
        self.level = level
        self.setStyleSheet(f"#banner {{ {STYLES[level]} border-radius: 4px; }}"
                           " #banner QLabel { border: none; background: transparent; }")
        self.full_text = text
        shown = shown_text(text)
        self.label.setText(shown)
        # On hover: the whole message when the strip cut it, and the technical words behind a
        # plain message (what the library said) for whoever asks.
        hover = [text] if shown != text else []
        if details:
            hover.append(f"Details: {details}")
        self.label.setToolTip("\n\n".join(hover))
        for button in self.buttons:
            self._layout.removeWidget(button)
            button.deleteLater()
        self.buttons = []
        for position, (caption, callback) in enumerate(actions):
            button = QPushButton(caption)
            button.clicked.connect(callback)
            self._layout.insertWidget(1 + position, button, 0, Qt.AlignmentFlag.AlignVCenter)
            self.buttons.append(button)
        self.show()


class Banner(QWidget):
    """The stack of strips; ``show_message`` replaces the strip of the same topic."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self._strips: dict[str, BannerStrip] = {}

    def show_message(self, text: str, level: str = "error", actions=(), topic: str = "",
                     details: str = "") -> None:
        """``actions``: (button text, callable) pairs, shown as buttons right of the text.
        ``topic`` groups messages: a new one replaces the old one about the same thing.
        ``details``: the raw text behind a plain message, shown as the text's tooltip."""
        strip = self._strips.get(topic)
        if strip is None:
            strip = BannerStrip(topic)
            self._strips[topic] = strip
            self._layout.insertWidget(0, strip)  # newest on top
            self._trim()
        strip.set_message(text, level, actions, details)

    def dismiss(self, topic: str | None = None) -> None:
        """Hide one topic's message, or every message."""
        for name, strip in self._strips.items():
            if topic is None or name == topic:
                strip.hide()

    def strip(self, topic: str = "") -> BannerStrip | None:
        return self._strips.get(topic)

    def text(self) -> str:
        """Every visible message, newest first (tests and screenshots read this)."""
        return "\n".join(s.full_text for s in self._visible())

    @property
    def buttons(self) -> list[QPushButton]:
        return [b for s in self._visible() for b in s.buttons]

    def isHidden(self) -> bool:  # noqa: N802 - Qt naming: "no message showing"
        return not self._visible()

    def _visible(self) -> list[BannerStrip]:
        strips = [self._layout.itemAt(i).widget() for i in range(self._layout.count())]
        return [s for s in strips if s is not None and not s.isHidden()]

    def _trim(self) -> None:
        visible = self._visible()
        for strip in visible[MAX_STRIPS:]:
            strip.hide()
