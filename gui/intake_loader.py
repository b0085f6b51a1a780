"""Loading what one open or drop brought, a few files per turn of the event loop.

Decoding and adding 500 small images at once holds the GUI thread for about half a second;
a slice of ``CHUNK`` files at a time keeps the window answering between slices. The first
slice loads before ``load_in_steps`` returns, so a drop of a few files is in the list at once.
Opens and drops that come while one is loading wait their turn, in order.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer

from gui.image_entry import ImageEntry
from gui.image_sources import FolderCount, IntakePlan, LoadResult, load_file

CHUNK = 20  # files per slice: ~1 ms each when small; a big photo takes what it takes


@dataclass
class IntakeRun:
    """One open or drop while it loads: what was added, and every problem, for one report."""

    plan: IntakePlan
    position: int = 0  # files of the plan tried so far
    added: list[ImageEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    per_folder: Counter = field(default_factory=Counter)  # id(FolderCount) -> images added

    def __post_init__(self) -> None:
        self.problems += self.plan.problems

    @property
    def done(self) -> bool:
        return self.position >= len(self.plan.files)

    def added_from(self, folder: FolderCount) -> int:
        return self.per_folder[id(folder)]


# add(entries) -> (entries that went into the list, a problem line per one that did not)
AddEntries = Callable[[list[ImageEntry]], tuple[list[ImageEntry], list[str]]]


class IntakeLoader(QObject):
    def __init__(self, add: AddEntries, finished: Callable[[IntakeRun], None],
                 progress: Callable[[IntakeRun], None], parent=None) -> None:
        super().__init__(parent)
        self._add, self._finished, self._progress = add, finished, progress
        self._runs: deque[IntakeRun] = deque()
        self.current: IntakeRun | None = None  # the run whose slice is being added, while it is
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)  # the next slice as soon as waiting events are handled
        self._timer.timeout.connect(self._step)

    @property
    def pending(self) -> bool:
        return bool(self._runs)

    def load_now(self, plan: IntakePlan) -> IntakeRun:
        """Everything before returning (the command line, tests, a cell's files)."""
        run = IntakeRun(plan)
        while not run.done:
            self._load_slice(run)
        self._finished(run)
        return run

    def load_in_steps(self, plan: IntakePlan) -> IntakeRun:
        run = IntakeRun(plan)
        self._runs.append(run)
        if len(self._runs) == 1:
            self._step()
        return run

    def cancel(self) -> None:
        """Clear empties the list: images still on their way must not come in after it."""
        self._timer.stop()
        self._runs.clear()

    def _step(self) -> None:
        if not self._runs:
            return
        run = self._runs[0]
        self._load_slice(run)
        if run.done:
            self._runs.popleft()
            self._finished(run)
        else:
            self._progress(run)
        if self._runs:
            self._timer.start()

    def _load_slice(self, run: IntakeRun) -> None:
        chunk, folder_of = LoadResult(), {}
        for path, folder in run.plan.files[run.position:run.position + CHUNK]:
            before = len(chunk.entries)
            load_file(path, chunk, folder.folder if folder is not None else None)
            if folder is not None and len(chunk.entries) > before:
                folder_of[chunk.entries[-1].key] = folder
        run.position += CHUNK
        self.current = run
        try:
            added, problems = self._add(chunk.entries)
        finally:
            self.current = None
        run.added += added
        run.problems += chunk.problems + problems
        run.unreadable += chunk.unreadable
        for entry in added:
            if entry.key in folder_of:
                run.per_folder[id(folder_of[entry.key])] += 1
