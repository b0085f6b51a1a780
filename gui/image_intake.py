"""How images get into the window (open dialogs, folders, samples, paste, drag and drop)
and out of it again (Delete, Clear list, and Undo of both).

``IntakeFeature`` is composed by ``MainWindow`` as ``window.intake``. Loading itself is
``image_sources``'s job, pacing it is ``intake_loader``'s; this part turns a selection into
list entries, asks the engine for predictions, reports every problem of one action in one
polite message, and keeps what Delete and Clear took out so Undo can bring it back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMainWindow

from gui.clear_confirmation import confirm_clear, undo_keys
from gui.image_entry import ImageEntry
from gui.image_sources import (
    IntakePlan,
    LoadResult,
    describe_folder,
    describe_problems,
    describe_unreadable,
    load_bytes,
    load_sample,
    plan_paths,
)
from gui.intake_loader import IntakeLoader, IntakeRun
from gui.qt_images import qimage_png_bytes
from gui.remembered_folders import IMAGES, existing_folder, open_files
from gui.removal_history import Removal, RemovalHistory, RemovedImage, display_name

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp *.ppm *.pgm);;All files (*)"
MESSAGE_MS = 10_000


class IntakeFeature:
    """Adding images (files, folders, samples, clipboard, drops), removing them, and Undo.

    ``window`` is used only as the parent of the loader and of dialogs, and for the status
    bar. ``entries`` is the window's dict of image entries (this feature adds to it and
    removes from it); ``show_entry(key)`` puts an image on screen, ``update_actions()``
    refreshes the window's actions, ``forget_job(key)`` drops the window's note of an
    image's newest job, and ``report(message, level, topic)`` shows a problem.
    """

    def __init__(self, window: QMainWindow, controller, entries: dict[int, ImageEntry], *, image_list,
                 results_view, banner, report: Callable[..., None], show_entry: Callable[[int], None],
                 update_actions: Callable[[], None], forget_job: Callable[[int], None]) -> None:
        self._window = window
        self._controller = controller
        self._entries = entries
        self._image_list = image_list
        self._results_view = results_view
        self._banner = banner
        self._report = report
        self._show_entry = show_entry
        self._update_actions = update_actions
        self._forget_job = forget_job
        self._clipboard_count = 0  # pasted or dropped image data so far: names them apart
        self._undo_action: QAction | None = None  # Edit ▸ Undo, once the window has made it
        self.loader = IntakeLoader(self._insert_entries, self._announce, self._show_loading, window)
        self.removal_history = RemovalHistory()

    def use_undo_action(self, action: QAction) -> None:
        """Edit ▸ Undo: its text names what it would bring back (see ``update_undo_action``)."""
        self._undo_action = action
        self.update_undo_action()

    def _status(self, message: str) -> None:
        self._window.statusBar().showMessage(message, MESSAGE_MS)

    def add_paths(self, paths) -> list[ImageEntry]:
        """Files and folders, every image in before this returns (the command line, a cell's files)."""
        return self.loader.load_now(plan_paths(paths)).added

    def add_entries(self, entries: list[ImageEntry]) -> list[ImageEntry]:
        return self._add(LoadResult(entries=list(entries)))

    def _add(self, result: LoadResult) -> list[ImageEntry]:
        """Entries loaded already (a sample, pasted data): in the list, reported as any open."""
        run = IntakeRun(IntakePlan(problems=list(result.problems)))
        run.added, problems = self._insert_entries(result.entries)
        run.problems += problems
        self._announce(run)
        return run.added

    def _insert_entries(self, entries: list[ImageEntry]) -> tuple[list[ImageEntry], list[str]]:
        """Into the list and to the engine for predictions; files already listed are not
        added twice. The first image of an open becomes the selected one."""
        added, problems = [], []
        known = {e.path.resolve() for e in self._entries.values() if e.path is not None}
        for entry in entries:
            if entry.path is not None and entry.path.resolve() in known:
                problems.append(f"{entry.path.name}: already in the list")
                continue
            if entry.path is not None:
                known.add(entry.path.resolve())
            entry.name = self._unique_name(entry.name)
            self._entries[entry.key] = entry
            self._image_list.add_entry(entry)
            self._controller.predict(entry.key, entry.image)
            added.append(entry)
        if added and not self._selecting_later():
            self._image_list.select_key(added[0].key)
        return added, problems

    def _selecting_later(self) -> bool:
        # A slice after the first of a folder: its first image is selected already, and
        # jumping the selection to every new slice would pull the person's view away.
        run = self.loader.current
        return run is not None and bool(run.added)

    def _show_loading(self, run: IntakeRun) -> None:
        self._status(f"Opening images… {run.position:,} of {len(run.plan.files):,}")

    def _announce(self, run: IntakeRun) -> None:
        """One status line for the whole open (counts per folder), one banner for its problems."""
        added = run.added
        folder_lines = [describe_folder(f, run.added_from(f)) for f in run.plan.folders]
        loose = len(added) - sum(run.added_from(f) for f in run.plan.folders)
        if folder_lines:
            status = "; ".join(folder_lines + ([f"added {loose} more"] if loose > 0 else []))
        else:
            status = f"Added {len(added)} image{'s' if len(added) != 1 else ''}" if added else ""
        skipped = [line for f, line in zip(run.plan.folders, folder_lines) if f.found > f.taken]
        problems = [text for text in (describe_problems(run.problems), describe_unreadable(run.unreadable))
                    if text]
        if problems:
            self._report(" · ".join(skipped + problems), "warning" if added else "error", topic="files")
        elif skipped:
            self._report(" · ".join(skipped), "info", topic="files")
        elif added:
            self._banner.dismiss("files")  # an older drop's problems are no longer news
        # After the banner's own status line: the counts first, then what went wrong.
        line = " · ".join(text for text in [status, *problems] if text)
        if line:
            self._status(line)
        self._update_actions()

    def _unique_name(self, name: str) -> str:
        taken = {e.name for e in self._entries.values()}
        candidate, n = name, 2
        while candidate in taken:
            candidate, n = f"{name}-{n}", n + 1
        return candidate

    def open_files(self) -> None:
        paths = open_files(self._window, IMAGES, "Open images", IMAGE_FILTER)
        if paths:
            self.add_paths(paths)

    def open_folder(self) -> None:
        folder = existing_folder(self._window, IMAGES, "Add the images in a folder")
        if folder:
            self.loader.load_in_steps(plan_paths([folder]))

    def open_sample(self, name: str) -> ImageEntry | None:
        try:
            entry = load_sample(name)
        except Exception as exc:  # noqa: BLE001 - a missing sample must not take the app down
            self._report(f"sample {name}: {exc}", topic="files")
            return None
        added = self.add_entries([entry])
        return added[0] if added else None

    def paste(self) -> list[ImageEntry]:
        mime = QApplication.clipboard().mimeData()
        if mime is not None and (mime.hasUrls() or mime.hasImage()):
            return self.add_mime(mime, "clipboard")
        text = mime.text().strip() if mime is not None else ""
        if text and Path(text).exists():
            return self.add_paths([text])
        self._report("The clipboard holds no image (copy an image or an image file first)", "info",
                     topic="files")
        return []

    def add_mime(self, mime, name: str = "dropped") -> list[ImageEntry]:
        """Files, folders or raw image data from a drop or the clipboard; one report for all."""
        if mime.hasUrls():
            urls: list[QUrl] = mime.urls()
            local = [u.toLocalFile() for u in urls if u.isLocalFile()]
            remote = [u.toString() for u in urls if not u.isLocalFile()]
            plan = plan_paths(local)
            plan.problems += [f"{r}: only files on this computer can be added" for r in remote]
            return self.loader.load_in_steps(plan).added  # a big folder goes on loading
        if mime.hasImage():
            self._clipboard_count += 1
            label = name if self._clipboard_count == 1 else f"{name}-{self._clipboard_count}"
            return self._add(load_bytes(qimage_png_bytes(mime.imageData()), label))
        self._report("Nothing to add: drop image files, a folder or an image", "info", topic="files")
        return []

    def drag_enter(self, event) -> None:
        """A drag over the window (entering or moving): taken only when it carries something to add."""
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def drop(self, event) -> None:
        mime = event.mimeData()
        if not (mime.hasUrls() or mime.hasImage()):
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_mime(mime)

    # ------------------------------------------------------------------ removing, and undoing it

    def remove_current(self) -> None:
        key = self._image_list.current_key()
        if key:
            self.remove_image(key)

    def remove_image(self, key: int) -> None:
        """Delete: no question asked, since Edit ▸ Undo brings the image back."""
        entry = self._entries.get(key)
        if entry is None:
            return
        self._remember_removal("delete", [key])
        self._drop_entry(key)
        self._show_entry(self._image_list.current_key())
        self._status(f"Removed {display_name(entry)} — {undo_keys()} to undo")
        self._update_actions()

    def clear_list(self) -> bool:
        """Edit ▸ Clear list: asks first when any image has explanations (see confirm_clear)."""
        explained = sum(1 for e in self._entries.values() if e.results)
        if explained and not confirm_clear(self._window, len(self._entries), explained):
            return False
        self.remove_all_images()
        return True

    def remove_all_images(self) -> None:
        self.loader.cancel()  # a folder still loading would refill the list
        keys = self._image_list.keys()
        if not keys:
            return
        self._remember_removal("clear", keys)
        for key in keys:
            self._drop_entry(key)
        self._show_entry(0)
        self._status(f"Removed {len(keys)} image{'s' if len(keys) != 1 else ''} — {undo_keys()} to undo")
        self._update_actions()

    def _remember_removal(self, kind: str, keys: list[int]) -> None:
        images = []
        for key in keys:
            tabs = self._results_view.tabs_for(key)
            images.append(RemovedImage(self._entries[key], self._image_list.row_of(key),
                                       tabs.currentIndex() if tabs is not None else 0))
        info = self._controller.model_info
        self.removal_history.push(Removal(kind, images, self._image_list.current_key(),
                                          info.generation if info is not None else None))

    def _drop_entry(self, key: int) -> None:
        # Its running job is cancelled; what it finished stays in the entry for Undo.
        self._controller.forget_image(key)
        self._entries.pop(key, None)
        self._forget_job(key)
        self._results_view.remove_entry(key)
        self._image_list.remove_key(key)

    def undo_removal(self) -> list[ImageEntry]:
        """Edit ▸ Undo: the images of the last Delete or Clear, back in their rows, with their results."""
        removal = self.removal_history.pop()
        if removal is None:
            return []
        info = self._controller.model_info
        same_model = removal.model_generation == (info.generation if info is not None else None)
        known = {e.path.resolve() for e in self._entries.values() if e.path is not None}
        back, skipped = [], []
        for removed in sorted(removal.images, key=lambda r: r.row):
            entry = removed.entry
            if entry.path is not None and entry.path.resolve() in known:
                skipped.append(display_name(entry))  # opened again since: keep the one in the list
                continue
            self._restore_entry(removed, same_model)
            back.append(entry)
        # Keep the entries in list order: Explain all and the grid go through them in that order.
        ordered = [(k, self._entries[k]) for k in self._image_list.keys() if k in self._entries]
        self._entries.clear()
        self._entries.update(ordered)
        if removal.selected_key in self._entries:
            self._image_list.select_key(removal.selected_key)
        self._show_entry(self._image_list.current_key())
        what = display_name(back[0]) if len(back) == 1 else f"{len(back)} images"
        note = f"Brought back {what}" if back else "Nothing brought back"
        if skipped:
            note += f" ({', '.join(skipped)} already in the list)"
        self._status(note)
        self._update_actions()
        return back

    def _restore_entry(self, removed: RemovedImage, same_model: bool) -> None:
        entry = removed.entry
        if entry.status in ("queued", "explaining"):
            entry.status = "cancelled"  # its job was stopped by the removal; finished results stay
        entry.progress, entry.queue_position = 0.0, 0
        if not same_model:  # another model is loaded now: its own predictions, no old maps
            entry.results.clear()
            entry.metrics.clear()
            entry.stability.clear()
            entry.predictions, entry.prediction_error, entry.error = None, None, None
            entry.status = "ready"
        entry.name = self._unique_name(entry.name)
        self._entries[entry.key] = entry
        self._image_list.insert_entry(entry, removed.row)
        if entry.predictions is None and entry.prediction_error is None:
            self._controller.predict(entry.key, entry.image)  # removed before they came
        if entry.results:
            self._results_view.update_entry(entry, show=False)
            tabs = self._results_view.tabs_for(entry.key)
            if tabs is not None:
                tabs.setCurrentIndex(min(removed.tab, tabs.count() - 1))

    def update_undo_action(self) -> None:
        if self._undo_action is None:
            return  # the window's actions are not made yet
        removal = self.removal_history.peek()
        self._undo_action.setEnabled(removal is not None)
        self._undo_action.setText(f"&Undo {removal.describe()}" if removal is not None else "&Undo")
