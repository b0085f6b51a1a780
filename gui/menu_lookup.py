"""Find a menu of the window's menu bar by its title, so features built in separate modules
can add their actions to one shared menu (Model, View, File) instead of each making its own."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu


def _plain(title: str) -> str:
    return title.replace("&", "").casefold()


def find_menu(window: QMainWindow, title: str) -> QMenu | None:
    for action in window.menuBar().actions():
        menu = action.menu()
        if menu is not None and _plain(menu.title()) == _plain(title):
            return menu
    return None


def menu_named(window: QMainWindow, title: str, before: str = "&View") -> QMenu:
    """The menu called ``title`` (mnemonic ignored); made, placed before ``before``, if missing."""
    menu = find_menu(window, title)
    if menu is not None:
        return menu
    menu = QMenu(title, window)
    anchor = find_menu(window, before)
    if anchor is not None:
        window.menuBar().insertMenu(anchor.menuAction(), menu)
    else:
        window.menuBar().addMenu(menu)
    return menu


def add_after(menu: QMenu, anchor: QAction | None, actions: list[QAction]) -> None:
    """Insert ``actions`` right after ``anchor`` in ``menu`` (at the end when it is not there)."""
    items = menu.actions()
    following = items[items.index(anchor) + 1] if anchor in items and items.index(anchor) + 1 < len(items) else None
    for action in actions:
        if following is None:
            menu.addAction(action)
        else:
            menu.insertAction(following, action)
