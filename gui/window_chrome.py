"""The window's actions, menus, toolbar and status bar: what the person clicks and reads.

A mixin of ``MainWindow``: the actions call the window's own methods, and tests and the
window reach them as ``window.open_action`` and so on.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QLabel, QStyle

from gui.about_dialog import AboutDialog
from gui.image_sources import SAMPLES
from gui.shortcuts_dialog import SHORTCUTS, ShortcutsDialog


class WindowChrome:
    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
                              if shortcut is not None else tip)
        action.triggered.connect(lambda *_: slot())
        self.addAction(action)  # shortcuts work even with the menu bar hidden
        return action

    def _build_actions(self) -> None:
        k = QKeySequence.StandardKey
        self.open_action = self._action("&Open images…", self.intake.open_files, k.Open, "Open one or more images")
        self.open_folder_action = self._action("Open &folder…", self.intake.open_folder, None,
                                               "Add every image in a folder")
        self.export_figure_action = self._action("&Export figure…", self.export_figure, k.Save,
                                                 "Save the current tab as PNG, SVG or PDF")
        self.export_maps_action = self._action("Export &maps…", self.export_maps, "Ctrl+Shift+S",
                                               "Save maps (NPZ), summaries (JSON) and PNGs")
        self.quit_action = self._action("&Quit", self.close, k.Quit, "Quit Image Explainer")
        self.paste_action = self._action("&Paste image", self.intake.paste, k.Paste,
                                         "Add the image on the clipboard")
        self.remove_action = self._action("&Remove image", self.intake.remove_current, k.Delete,
                                          "Remove the selected image from the list")
        self.clear_action = self._action("&Clear list", self.intake.clear_list, None, "Remove every image")
        self.undo_action = self._action("&Undo", self.intake.undo_removal, k.Undo,
                                        "Bring back the images the last Remove or Clear took out")
        self.explain_action = self._action("&Explain", self.explain_current, "Ctrl+E",
                                           "Explain the current image")
        self.explain_all_action = self._action("Explain &all", self.explain_all, "Ctrl+Shift+E",
                                               "Queue every image")
        self.cancel_action = self._action("&Cancel", self.cancel_current, "Esc",
                                          "Stop the running explanation (else the evaluation, "
                                          "else the Integrated Gradients preview)")
        self.cancel_all_action = self._action("Cancel a&ll", self.controller.cancel_all, None,
                                              "Stop the running explanation and empty the queue")
        self.next_tab_action = self._action("&Next class tab", lambda: self.results_view.step_tab(1),
                                            ["Ctrl+PgDown", "Ctrl+Tab"])
        self.previous_tab_action = self._action("&Previous class tab", lambda: self.results_view.step_tab(-1),
                                                ["Ctrl+PgUp", "Ctrl+Shift+Tab"])
        self.compare_action = self._compare_action()
        self.open_model_action = self._action("Open &model…", self.open_model_dialog, "Ctrl+M",
                                              "Open your own Keras classifier (.keras, .h5 or a SavedModel folder)")
        self.resnet_action = self._action("Use &ResNet-50 (ImageNet)", self.use_resnet50, None,
                                          "Go back to the built-in ImageNet network")
        self.model_summary_action = self._action("Model &summary…", self.show_model_summary, "Ctrl+I",
                                                 "Layers, output shapes and parameter counts of the model")
        self.fast_cpu_action = self._action("&Fast CPU mode (bfloat16)", self.toggle_fast_cpu, None,
                                            "About twice as fast on CPUs with bfloat16 instructions; "
                                            "probabilities and maps change slightly (results say bfloat16)")
        self.fast_cpu_action.setCheckable(True)
        self.fast_cpu_action.setChecked(self.model_request.precision == "bfloat16")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.explain_button.clicked.connect(self.explain_current)
        self.explain_all_button.clicked.connect(self.explain_all)

    def _build_menus_and_toolbar(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.open_folder_action)
        samples = file_menu.addMenu("Open &sample")
        samples.setObjectName("samplesMenu")
        for name, title in SAMPLES.items():
            action = samples.addAction(title)
            action.setData(name)
            action.triggered.connect(lambda *_, n=name: self.intake.open_sample(n))
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
        model_menu.addMenu(self._build_recent_models())
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
        view_menu.addAction(self.images_dock.toggleViewAction())
        view_menu.addAction(self.settings_dock.toggleViewAction())

        help_menu = bar.addMenu("&Help")
        help_menu.setObjectName("helpMenu")
        self.shortcuts_action = self._action("&Keyboard shortcuts", self.show_shortcuts, list(SHORTCUTS),
                                             "Every action's keyboard shortcut")
        self.about_action = self._action("&About Image Explainer", self.about,
                                         tip="The version of the app and of what it runs on")
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(self.shortcuts_action)
        help_menu.addSeparator()
        help_menu.addAction(self.about_action)

        toolbar = self.addToolBar("Main")
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
            action.setIcon(QIcon.fromTheme(theme, self.style().standardIcon(fallback)))
        for action in (self.open_action, self.paste_action, None, self.explain_action,
                       self.explain_all_action, self.cancel_action, None, self.export_figure_action,
                       self.export_maps_action):
            toolbar.addSeparator() if action is None else toolbar.addAction(action)

    def show_shortcuts(self) -> ShortcutsDialog:
        """Help ▸ Keyboard shortcuts (F1, Ctrl+/): built from the actions each time it opens."""
        dialog = getattr(self, "shortcuts_dialog", None)
        if dialog is None:
            dialog = self.shortcuts_dialog = ShortcutsDialog(self)
        dialog.refresh()
        return _bring_up(dialog)

    def about(self) -> AboutDialog:
        """Help ▸ About: non-modal, so it never stops the window (or a test)."""
        dialog = getattr(self, "about_dialog", None)
        if dialog is None:
            dialog = self.about_dialog = AboutDialog(self)
        return _bring_up(dialog)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
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
