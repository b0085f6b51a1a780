"""The Grid tab: every explained image as a row, its classes as columns, one colour scale.

The window calls ``mark_stale()`` whenever results may have changed; the grid is rebuilt
only while the tab is on screen and only when what it would show has changed (a rebuild
draws N × C panels, too much to repeat for every progress tick of a running job).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.grid_canvas import GridCanvas
from gui.grid_data import DEFAULT_MAX_COLUMNS, METHOD_NAMES, GridData, available_methods, build_grid
from gui.settings_store import open_settings

CELL_PIXELS = (110, 220)  # smallest and largest panel on screen; larger grids scroll
LABEL_PIXELS = 90  # the row labels left of the first column
EXTRA_HEIGHT = 130  # column titles, legend line and the colour bar
EMPTY_MESSAGE = "Explain some images: each becomes a row here, its classes the columns"


class GridView(QWidget):
    exportRequested = Signal()

    def __init__(self, entries: Callable[[], list], context: Callable[[], dict] | None = None,
                 parent=None) -> None:
        """``entries()``: the window's images in list order; ``context()``: keyword arguments
        for ``build_grid`` the window knows (``known_truth``, ``class_names``)."""
        super().__init__(parent)
        self.setObjectName("gridView")
        self._entries = entries
        self._context = context or dict
        self._signature = None
        self._held: list = []
        self.data: GridData | None = None
        self.rebuild_count = 0  # how many times the figure was rebuilt (tests look at it)

        self.method_combo = QComboBox()
        self.method_combo.setObjectName("gridMethod")
        self.method_combo.setToolTip("Which explanation the grid shows (the methods that have run)")
        self.method_combo.setMinimumWidth(180)
        self.columns_spin = QSpinBox()
        self.columns_spin.setObjectName("gridColumns")
        self.columns_spin.setRange(1, 30)
        self.columns_spin.setPrefix("at most ")
        self.columns_spin.setSuffix(" classes")
        self.columns_spin.setToolTip("Columns: the explained classes, those most images explained first")
        store = open_settings()
        self.columns_spin.setValue(int(store.value("grid/max_columns", DEFAULT_MAX_COLUMNS) or DEFAULT_MAX_COLUMNS))
        self._preferred_method = str(store.value("grid/method", "") or "")
        self.info = QLabel()
        self.info.setObjectName("gridInfo")
        self.info.setStyleSheet("color: #555;")
        self.export_button = QPushButton("Export grid…")
        self.export_button.setObjectName("exportGridButton")
        self.export_button.setToolTip("Save the grid as PNG, PDF or SVG")
        self.export_button.clicked.connect(self.exportRequested)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Method"))
        controls.addWidget(self.method_combo)
        controls.addWidget(self.columns_spin)
        controls.addWidget(self.info, 1)
        controls.addWidget(self.export_button)

        self.canvas = GridCanvas()
        self.scroll = QScrollArea()
        self.scroll.setObjectName("gridScroll")
        self.scroll.setWidgetResizable(False)  # the canvas keeps the size _fit_canvas gives it
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.scroll.setWidget(self.canvas)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.scroll, 1)

        # Many changes in one event-loop turn (a result, then its list update) make one refresh.
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh)
        self.method_combo.currentIndexChanged.connect(self._on_choice_changed)
        self.columns_spin.valueChanged.connect(self._on_choice_changed)
        self.canvas.set_data(None, EMPTY_MESSAGE)
        self._update_controls()

    # ------------------------------------------------------------------ updating

    def mark_stale(self) -> None:
        """Results may have changed: refresh soon if on screen, else when next shown."""
        if self.isVisible():
            self._refresh_timer.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().showEvent(event)
        self._refresh_timer.start()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().resizeEvent(event)
        self._fit_canvas()

    def refresh(self) -> bool:
        """Rebuild the figure if what it shows has changed; True when it was rebuilt."""
        entries = list(self._entries())
        self._update_methods(available_methods(entries))
        method = self.method_combo.currentData()
        signature = (method, self.columns_spin.value(),
                     tuple((e.key, e.name, id(e.results.get(method)), id(e.predictions)) for e in entries
                           if method in e.results))
        if signature == self._signature:
            return False
        # Holding the results keeps their ids from being reused by newer ones.
        self._signature, self._held = signature, [e.results.get(method) for e in entries]
        self.data = build_grid(entries, method, self.columns_spin.value(), **self._context()) if method else None
        self.rebuild_count += 1
        self._fit_canvas()
        self.canvas.set_data(self.data, EMPTY_MESSAGE)
        self._update_controls()
        return True

    def ensure_current(self) -> GridData | None:
        """Bring the grid up to date even when hidden (export needs it)."""
        self.refresh()
        return self.data

    def set_method(self, method: str) -> None:
        index = self.method_combo.findData(method)
        if index >= 0:
            self.method_combo.setCurrentIndex(index)

    # ------------------------------------------------------------------ helpers

    def _update_methods(self, methods: list[str]) -> None:
        # The person's own choice when it has run, else the first method in the fixed order:
        # not whichever came first (the quick Grad-CAM preview would stay on after SHAP came).
        current = self._preferred_method
        if [self.method_combo.itemData(i) for i in range(self.method_combo.count())] == methods:
            return
        self.method_combo.blockSignals(True)
        self.method_combo.clear()
        for method in methods:
            self.method_combo.addItem(METHOD_NAMES.get(method, method), method)
        index = self.method_combo.findData(current)
        self.method_combo.setCurrentIndex(index if index >= 0 else 0)
        self.method_combo.blockSignals(False)

    def _on_choice_changed(self, *_) -> None:
        store = open_settings()
        if self.method_combo.currentData():
            self._preferred_method = self.method_combo.currentData()
            store.setValue("grid/method", self._preferred_method)
        store.setValue("grid/max_columns", self.columns_spin.value())
        if self.isVisible():
            self.refresh()

    def _fit_canvas(self) -> None:
        """Square panels at a readable size: as large as the tab allows, within limits; a
        grid with more rows or columns than fit scrolls rather than shrinking to nothing."""
        viewport = self.scroll.viewport().size()
        if self.data is None:
            self.canvas.resize(viewport)
            return
        rows, columns = self.data.shape
        fits = min((viewport.width() - LABEL_PIXELS) // (columns + 1),
                   (viewport.height() - EXTRA_HEIGHT) // max(1, rows))
        cell = max(CELL_PIXELS[0], min(CELL_PIXELS[1], fits))
        self.canvas.resize((columns + 1) * cell + LABEL_PIXELS, rows * cell + EXTRA_HEIGHT)

    def _update_controls(self) -> None:
        has_methods = self.method_combo.count() > 0
        self.method_combo.setEnabled(has_methods)
        self.export_button.setEnabled(self.data is not None)
        if self.data is None:
            self.info.setText("")
        else:
            rows, columns = self.data.shape
            self.info.setText(f"{rows} image{'s' if rows != 1 else ''} × {columns} "
                              f"class{'es' if columns != 1 else ''} · one colour scale")
