"""Background images for background-set SHAP, loaded once per folder and model in a session.

Reading and resizing a hundred images takes seconds; explaining image after image against the
same background must not pay that each time. Runs in the engine thread (no Qt here): the
cache is only touched by the worker.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.jobs import CancelToken, ProgressFn, no_progress


class BackgroundCache:
    """Remembers the last background set loaded: one folder, one model input size."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._images: np.ndarray | None = None
        self.notes: list[str] = []  # files skipped when the set was loaded
        self.loads = 0  # how many times a folder was actually read (tests look at it)

    def images(self, folder: str, size: tuple[int, int], max_images: int, seed: int,
               generation: int, progress: ProgressFn = no_progress,
               cancel: CancelToken | None = None) -> np.ndarray:
        """The background set, read from disk only when something about it changed."""
        from engine.explain.shap_gradient import load_background

        key = (str(Path(folder).resolve()), _folder_stamp(folder), tuple(size), int(max_images),
               int(seed), int(generation))
        if key != self._key or self._images is None:
            images, notes = load_background(folder, tuple(size), max_images, seed, progress, cancel)
            self._key, self._images, self.notes = key, images, notes
            self.loads += 1
        return self._images

    def clear(self) -> None:
        self._key, self._images, self.notes = None, None, []


def _folder_stamp(folder: str) -> int:
    """Changes when files are added to or removed from the folder itself."""
    try:
        return os.stat(folder).st_mtime_ns
    except OSError:
        return -1  # missing: load_background says so in one clear line
