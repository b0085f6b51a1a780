"""The side list of images: thumbnail, name and a status line per image."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem

from gui.image_entry import ImageEntry
from gui.qt_images import to_pixmap

THUMBNAIL = QSize(52, 52)
KEY_ROLE = Qt.ItemDataRole.UserRole
STATUS_COLOURS = {"failed": "#b3261e", "done": "#1e6b2f", "cancelled": "#8a6d00"}


class ImageList(QListWidget):
    currentKeyChanged = Signal(int)  # 0 when nothing is selected

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("imageList")
        self.setIconSize(THUMBNAIL)
        self.setSpacing(2)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        # Drops go to the main window, which knows how to load them.
        self.setAcceptDrops(False)
        self.setMinimumWidth(200)
        self.currentItemChanged.connect(self._emit_current)
        # Key -> item: a folder of hundreds of images would make every lookup a scan of the list.
        self._items: dict[int, QListWidgetItem] = {}

    def add_entry(self, entry: ImageEntry) -> None:
        self.insert_entry(entry, self.count())

    def insert_entry(self, entry: ImageEntry, row: int) -> None:
        """The entry at ``row`` (clamped to the list), as Undo puts a removed image back."""
        item = QListWidgetItem(QIcon(to_pixmap(entry.image, THUMBNAIL)), "")
        item.setData(KEY_ROLE, entry.key)
        item.setSizeHint(QSize(THUMBNAIL.width() + 150, THUMBNAIL.height() + 6))
        self._items[entry.key] = item
        self.insertItem(max(0, min(row, self.count())), item)
        self.update_entry(entry)

    def update_entry(self, entry: ImageEntry) -> None:
        item = self._item(entry.key)
        if item is None:
            return
        item.setText(f"{entry.name}\n{entry.status_text()}")
        item.setToolTip(f"{entry.source}\n{entry.error or entry.status_text()}")
        colour = STATUS_COLOURS.get(entry.status)
        item.setForeground(QBrush(QColor(colour)) if colour else QBrush())

    def remove_key(self, key: int) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self.takeItem(self.row(item))

    def row_of(self, key: int) -> int:
        item = self._item(key)
        return self.row(item) if item is not None else -1

    def keys(self) -> list[int]:
        """The images' keys from top to bottom."""
        return [int(self.item(row).data(KEY_ROLE)) for row in range(self.count())]

    def select_key(self, key: int) -> None:
        item = self._item(key)
        if item is not None:
            self.setCurrentItem(item)

    def current_key(self) -> int:
        item = self.currentItem()
        return int(item.data(KEY_ROLE)) if item is not None else 0

    def status_text(self, key: int) -> str:
        item = self._item(key)
        return item.text().split("\n", 1)[-1] if item is not None else ""

    def _item(self, key: int) -> QListWidgetItem | None:
        return self._items.get(key)

    def _emit_current(self, current, _previous) -> None:
        self.currentKeyChanged.emit(int(current.data(KEY_ROLE)) if current is not None else 0)
