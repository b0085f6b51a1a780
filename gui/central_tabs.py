"""The window's central area: Explanations (one image at a time) | Grid | Evaluation."""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QWidget


class CentralTabs(QTabWidget):
    def __init__(self, pages: dict[str, tuple[str, QWidget, str]], parent=None) -> None:
        """``pages``: name -> (tab title, widget, tooltip), in tab order."""
        super().__init__(parent)
        self.setObjectName("centralTabs")
        self.setDocumentMode(True)
        self._names: list[str] = []
        for name, (title, widget, tip) in pages.items():
            index = self.addTab(widget, title)
            self.setTabToolTip(index, tip)
            self._names.append(name)

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def show_page(self, name: str) -> None:
        self.setCurrentIndex(self._names.index(name))

    def current_page(self) -> str:
        return self._names[self.currentIndex()]

    def page(self, name: str) -> QWidget:
        return self.widget(self._names.index(name))


def add_page_actions(window, tabs: CentralTabs, make_action) -> list:
    """View ▸ one action per page, Ctrl+1, Ctrl+2, …; ``make_action`` makes them."""
    from gui.menu_lookup import menu_named

    view_menu = menu_named(window, "&View")
    first = view_menu.actions()[0] if view_menu.actions() else None
    actions = []
    for number, name in enumerate(tabs.names, start=1):
        title = tabs.tabText(number - 1)
        action = make_action(f"{title} tab", lambda n=name: tabs.show_page(n), f"Ctrl+{number}",
                             f"Show the {title} tab")
        view_menu.insertAction(first, action)
        actions.append(action)
    view_menu.insertSeparator(first)
    return actions
