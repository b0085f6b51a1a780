"""The window's actions, menus, toolbar and status bar: what the person clicks and reads.

``WindowChrome`` is composed by ``MainWindow`` as ``window.chrome``. It owns the actions
(``chrome.open_action`` and so on), the menus, the toolbar, the status bar's labels and the
Help dialogs; what each action does is a callable it is handed (``ChromeSlots``), so it knows
nothing of the features behind them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMenu, QStyle

from gui.about_dialog import AboutDialog
from gui.image_sources import SAMPLES
from gui.shortcuts_dialog import SHORTCUTS, ShortcutsDialog


@dataclass(frozen=True)
class ChromeSlots:
    """What the window's actions call; each takes no argument except ``open_sample(name)``."""

    open_files: Callable[[], object]
    open_folder: Callable[[], object]
    open_sample: Callable[[str], object]
    export_figure: Callable[[], object]
    export_maps: Callable[[], object]
    quit: Callable[[], object]
    paste: Callable[[], object]
    remove_current: Callable[[], object]
    clear_list: Callable[[], object]
    undo_removal: Callable[[], object]
    explain_current: Callable[[], object]
    explain_all: Callable[[], object]
    cancel_current: Callable[[], object]
    cancel_all: Callable[[], object]
    next_tab: Callable[[], object]
    previous_tab: Callable[[], object]
    open_model: Callable[[], object]
    use_resnet50: Callable[[], object]
    show_model_summary: Callable[[], object]
    toggle_fast_cpu: Callable[[], object]


class WindowChrome:
    """The actions, menus, toolbar, status bar labels and Help dialogs of one window.

    ``window`` is used only as the parent of the actions (so their shortcuts work with the
    menu bar hidden), for its menu bar, toolbar and status bar, and as the dialogs' parent.
    ``compare_action`` (View ▸ Compare methods) and ``recent_models_menu`` (Model ▸ Recent
    models) belong to the features that made them; ``docks`` get View menu toggles.
    """

    def __init__(self, window: QMainWindow, slots: ChromeSlots, *, compare_action: QAction,
                 recent_models_menu: QMenu, docks: list[QDockWidget], fast_cpu_on: bool) -> None:
        self._window = window
        self._slots = slots
        self.shortcuts_dialog: ShortcutsDialog | None = None  # made when first opened
        self.about_dialog: AboutDialog | None = None
        self.compare_action = compare_action
        self._build_actions(fast_cpu_on)
        self._build_menus_and_toolbar(recent_models_menu, docks)

    def make_action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        """A window action calling ``slot()``; ``shortcut`` is a key, a standard key or a list."""
        action = QAction(text, self._window)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
                              if shortcut is not None else tip)
        action.triggered.connect(lambda *_: slot())
        self._window.addAction(action)  # shortcuts work even with the menu bar hidden
        return action

    def _build_actions(self, fast_cpu_on: bool) -> None:
        k = QKeySequence.StandardKey
        do, act = self._slots, self.make_action
        self.open_action = act("&Open images…", do.open_files, k.Open, "Open one or more images")
        self.open_folder_action = act("Open &folder…", do.open_folder, None, "Add every image in a folder")
        self.export_figure_action = act("&Export figure…", do.export_figure, k.Save,
                                        "Save the current tab as PNG, SVG or PDF")
        self.export_maps_action = act("Export &maps…", do.export_maps, "Ctrl+Shift+S",
                                      "Save maps (NPZ), summaries (JSON) and PNGs")
        self.quit_action = act("&Quit", do.quit, k.Quit, "Quit Image Explainer")
        self.paste_action = act("&Paste image", do.paste, k.Paste, "Add the image on the clipboard")
        self.remove_action = act("&Remove image", do.remove_current, k.Delete,
                                 "Remove the selected image from the list")
        self.clear_action = act("&Clear list", do.clear_list, None, "Remove every image")
        self.undo_action = act("&Undo", do.undo_removal, k.Undo,
                               "Bring back the images the last Remove or Clear took out")
        self.explain_action = act("&Explain", do.explain_current, "Ctrl+E", "Explain the current image")
        self.explain_all_action = act("Explain &all", do.explain_all, "Ctrl+Shift+E", "Queue every image")
        self.cancel_action = act("&Cancel", do.cancel_current, "Esc",
                                 "Stop the running explanation (else the evaluation, "
                                 "else the Integrated Gradients preview)")
        self.cancel_all_action = act("Cancel a&ll", do.cancel_all, None,
                                     "Stop the running explanation and empty the queue")
        self.next_tab_action = act("&Next class tab", do.next_tab, ["Ctrl+PgDown", "Ctrl+Tab"])
        self.previous_tab_action = act("&Previous class tab", do.previous_tab, ["Ctrl+PgUp", "Ctrl+Shift+Tab"])
        self.open_model_action = act("Open &model…", do.open_model, "Ctrl+M",
                                     "Open your own Keras classifier (.keras, .h5 or a SavedModel folder)")
        self.resnet_action = act("Use &ResNet-50 (ImageNet)", do.use_resnet50, None,
                                 "Go back to the built-in ImageNet network")
        self.model_summary_action = act("Model &summary…", do.show_model_summary, "Ctrl+I",
                                        "Layers, output shapes and parameter counts of the model")
        self.fast_cpu_action = act("&Fast CPU mode (bfloat16)", do.toggle_fast_cpu, None,
                                   "About twice as fast on CPUs with bfloat16 instructions; "
                                   "probabilities and maps change slightly (results say bfloat16)")
        self.fast_cpu_action.setCheckable(True)
        self.fast_cpu_action.setChecked(fast_cpu_on)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)

    def _build_menus_and_toolbar(self, recent_models_menu: QMenu, docks: list[QDockWidget]) -> None:
        window = self._window
        bar = window.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.open_folder_action)
        samples = file_menu.addMenu("Open &sample")
        samples.setObjectName("samplesMenu")
        for name, title in SAMPLES.items():
            action = samples.addAction(title)
            action.setData(name)
            action.triggered.connect(lambda *_, n=name: self._slots.open_sample(n))
        self.samples_menu = samples
        file_menu.addAction(self.open_model_action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_figure_action)
        file_menu.addAction(self.export_maps_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = bar.addMenu("&Edit")
        edit_menu.setObjectName("editMenu")
        edit_menu.addAction(self.undo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.paste_action)
        edit_menu.addAction(self.remove_action)
        edit_menu.addAction(self.clear_action)

        model_menu = bar.addMenu("&Model")
        model_menu.setObjectName("modelMenu")
        model_menu.addAction(self.open_model_action)
        model_menu.addMenu(recent_models_menu)
        for action in (self.resnet_action, None, self.model_summary_action, None, self.fast_cpu_action):
            model_menu.addSeparator() if action is None else model_menu.addAction(action)

        explain_menu = bar.addMenu("E&xplain")
        for action in (self.explain_action, self.explain_all_action, self.cancel_action, self.cancel_all_action):
            explain_menu.addAction(action)

        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.next_tab_action)
        view_menu.addAction(self.previous_tab_action)
        view_menu.addAction(self.compare_action)
        view_menu.addSeparator()
        for dock in docks:
            view_menu.addAction(dock.toggleViewAction())

        help_menu = bar.addMenu("&Help")
        help_menu.setObjectName("helpMenu")
        self.shortcuts_action = self.make_action("&Keyboard shortcuts", self.show_shortcuts, list(SHORTCUTS),
                                             "Every action's keyboard shortcut")
        self.about_action = self.make_action("&About Image Explainer", self.about,
                                         tip="The version of the app and of what it runs on")
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(self.shortcuts_action)
        help_menu.addSeparator()
        help_menu.addAction(self.about_action)

        toolbar = window.addToolBar("Main")
        toolbar.setObjectName("mainToolBar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setIconSize(QSize(18, 18))
        icons = {self.open_action: ("document-open", QStyle.StandardPixmap.SP_DialogOpenButton),
                 self.paste_action: ("edit-paste", QStyle.StandardPixmap.SP_FileDialogContentsView),
                 self.explain_action: ("media-playback-start", QStyle.StandardPixmap.SP_MediaPlay),
                 self.explain_all_action: ("media-seek-forward", QStyle.StandardPixmap.SP_MediaSeekForward),
                 self.cancel_action: ("process-stop", QStyle.StandardPixmap.SP_BrowserStop),
                 self.export_figure_action: ("document-save", QStyle.StandardPixmap.SP_DialogSaveButton),
                 self.export_maps_action: ("folder", QStyle.StandardPixmap.SP_DirIcon)}
        for action, (theme, fallback) in icons.items():
            # The desktop's icon theme where there is one, Qt's own icons elsewhere.
            action.setIcon(QIcon.fromTheme(theme, window.style().standardIcon(fallback)))
        for action in (self.open_action, self.paste_action, None, self.explain_action,
                       self.explain_all_action, self.cancel_action, None, self.export_figure_action,
                       self.export_maps_action):
            toolbar.addSeparator() if action is None else toolbar.addAction(action)

    def show_shortcuts(self) -> ShortcutsDialog:
        """Help ▸ Keyboard shortcuts (F1, Ctrl+/): built from the actions each time it opens."""
        dialog = self.shortcuts_dialog
        if dialog is None:
            dialog = self.shortcuts_dialog = ShortcutsDialog(self._window)
        dialog.refresh()
        return _bring_up(dialog)

    def about(self) -> AboutDialog:
        """Help ▸ About: non-modal, so it never stops the window (or a test)."""
        dialog = self.about_dialog
        if dialog is None:
            dialog = self.about_dialog = AboutDialog(self._window)
        return _bring_up(dialog)

    def build_status_bar(self) -> None:
        """The model's name, its backend and the untrained flag, at the status bar's right end
        (built last, after the features have added what they add to the window)."""
        status = self._window.statusBar()
        self.model_label = QLabel("Loading model…")
        self.model_label.setObjectName("modelLabel")
        self.backend_label = QLabel()
        self.backend_label.setObjectName("backendLabel")
        self.untrained_label = QLabel("untrained")
        self.untrained_label.setObjectName("untrainedLabel")
        self.untrained_label.setStyleSheet("color: white; background: #c62828; font-weight: bold;"
                                           " padding: 1px 6px; border-radius: 3px;")
        self.untrained_label.setToolTip("ResNet-50 without ImageNet weights: the answers mean nothing "
                                        "(for testing the app only)")
        self.untrained_label.hide()
        for widget in (self.model_label, self.backend_label):
            widget.setStyleSheet("padding: 0 10px; border-left: 1px solid #c8c8c8;")
        for widget in (self.model_label, self.backend_label, self.untrained_label):
            status.addPermanentWidget(widget)


def _bring_up(dialog):
    """Show a non-modal dialog in front, whether it is new or was opened before."""
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
