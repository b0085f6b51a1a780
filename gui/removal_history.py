"""What Edit ▸ Undo can bring back: the images the last Deletes and Clears removed.

Each removal keeps the whole ``ImageEntry`` (pixels, predictions, explanations, scores), the
row it had in the list, the class tab that was showing and which image was selected, so
Undo puts everything back as it was. Plain Python: the window does the putting back.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from gui.image_entry import ImageEntry

MAX_LEVELS = 20
# Removed images stay in memory until they drop off the history: a cap on their number, not
# only on levels, so twenty Clears of big folders cannot hold gigabytes of pixels.
MAX_IMAGES = 1000


@dataclass
class RemovedImage:
    entry: ImageEntry
    row: int  # its row in the list when it was removed
    tab: int = 0  # the class tab that was showing


@dataclass
class Removal:
    kind: str  # "delete" | "clear"
    images: list[RemovedImage]
    selected_key: int = 0  # the image that was selected (0: none)
    model_generation: int | None = None  # results from another model are not put back

    def describe(self) -> str:
        """What Undo would do, for the action's text: "Delete chelsea.png", "Clear (5 images)"."""
        if self.kind == "delete" and len(self.images) == 1:
            return f"Delete {display_name(self.images[0].entry)}"
        n = len(self.images)
        return f"Clear ({n} image{'s' if n != 1 else ''})"


def display_name(entry: ImageEntry) -> str:
    """The file name where there is one (the list shows the stem), else the entry's name."""
    return entry.path.name if entry.path is not None else entry.name


@dataclass
class RemovalHistory:
    max_levels: int = MAX_LEVELS
    max_images: int = MAX_IMAGES
    _removals: deque = field(default_factory=deque)

    def push(self, removal: Removal) -> None:
        if not removal.images:
            return
        self._removals.append(removal)
        # The newest removal always stays, however big: it is the one a person undoes.
        while len(self._removals) > 1 and (len(self._removals) > self.max_levels
                                           or self.image_count() > self.max_images):
            self._removals.popleft()

    def pop(self) -> Removal | None:
        return self._removals.pop() if self._removals else None

    def peek(self) -> Removal | None:
        return self._removals[-1] if self._removals else None

    def clear(self) -> None:
        self._removals.clear()

    def image_count(self) -> int:
        return sum(len(r.images) for r in self._removals)

    def __len__(self) -> int:
        return len(self._removals)
