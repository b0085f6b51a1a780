"""File ▸ Export: the current tab as a figure, or the current image's maps as files.

Both reuse the engine's writers, so exported files match the command line's. Nothing is
overwritten without asking.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from gui.figure_canvas import ExplanationCanvas
from gui.image_entry import ImageEntry
from gui.remembered_folders import EXPORTS, existing_folder, save_file

FIGURE_FILTERS = {"PNG image (*.png)": ".png", "SVG drawing (*.svg)": ".svg", "PDF document (*.pdf)": ".pdf"}
FIGURE_DPI = 150


def ask_figure_path(parent: QWidget, suggested: str, title: str = "Export figure") -> Path | None:
    """A PNG, SVG or PDF file name from the person; None if they cancel or keep a file."""
    path, chosen = save_file(parent, EXPORTS, title, suggested, ";;".join(FIGURE_FILTERS))
    if not path:
        return None
    target = Path(path)
    if target.suffix.lower() not in FIGURE_FILTERS.values():
        target = target.with_suffix(FIGURE_FILTERS.get(chosen, ".png"))
        # The dialog asked about overwriting the name typed, not the one with our suffix.
        if target.exists() and not confirm_overwrite(parent, [target]):
            return None
    return target


def figure_name(entry: ImageEntry, class_index: int, compare: bool = False) -> str:
    """The suggested file name of a class tab's figure, named like the command line's PNGs:
    ``coffee.967-espresso.png`` (``coffee.compare.967-espresso.png`` for the Compare view)."""
    from engine.outputs import class_label

    name = next((e.class_names[e.index_of(class_index)] for e in entry.explanations
                 if class_index in e.classes), "")
    view = ".compare" if compare else ""
    return f"{entry.name}{view}.{class_label(class_index, name)}.png"


def export_figure(parent: QWidget, canvas: ExplanationCanvas, suggested: str) -> Path | None:
    """Ask for a file name and save the canvas's own figure there (PNG, SVG or PDF)."""
    target = ask_figure_path(parent, suggested)
    if target is None:
        return None
    canvas.ensure_built()
    with canvas.figure_in_hand() as figure:
        figure.savefig(target, dpi=FIGURE_DPI, facecolor="white")
    return target


def planned_map_files(folder: Path, entry: ImageEntry) -> list[Path]:
    """The files ``engine.export.write_explanation`` will write for this image."""
    from engine.export import explanation_paths

    return [path for explanation in entry.explanations
            for path in explanation_paths(folder, entry.name, explanation)]


def export_maps(parent: QWidget, entry: ImageEntry, lime_view, folder: Path | None = None,
                sanity: dict | None = None) -> list[Path]:
    """NPZ + JSON + one PNG per class and method, into a folder the person picks; ``sanity``
    (method -> engine.sanity result, where one was run) goes into its method's JSON and NPZ."""
    from engine.export import write_explanation

    if folder is None:
        chosen = existing_folder(parent, EXPORTS, "Export maps into folder")
        if not chosen:
            return []
        folder = Path(chosen)
    existing = [p for p in planned_map_files(folder, entry) if p.exists()]
    if existing and not confirm_overwrite(parent, existing):
        return []
    written = []
    for explanation in entry.explanations:
        written += write_explanation(folder, entry.name, explanation, entry.source,
                                     entry.predictions or [], lime_view,
                                     faithfulness=entry.metrics.get(explanation.method),
                                     stability=entry.stability.get(explanation.method),
                                     sanity=(sanity or {}).get(explanation.method))
    return written


def confirm_overwrite(parent: QWidget, paths: list[Path]) -> bool:
    names = "\n".join(p.name for p in paths[:8]) + ("\n…" if len(paths) > 8 else "")
    answer = QMessageBox.question(
        parent, "Replace files?",
        f"{len(paths)} file(s) already exist in {paths[0].parent}:\n{names}\n\nReplace them?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
