"""Refuse anything but a regular file before opening it.

``open()`` on a FIFO blocks until a writer appears and a device such as /dev/zero reads
forever, so every file a user names (image, model, labels, weights) is checked by ``stat``
first: what it is decides whether it is opened at all.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from engine.errors import EngineError

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words ("a named pipe (FIFO)"); "a regular file" for one."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def require_regular_file(path: str | os.PathLike, what: str = "file",
                         error: type[EngineError] = EngineError) -> Path:
    """``path`` if it names a regular file (links followed); otherwise ``error`` with one line.

    ``what`` says what the file was meant to be ("image", "model file", "labels file").
    """
    path = Path(path)
    name = path.name or str(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise error(f"{name}: {what} not found") from None
    except PermissionError:
        raise error(f"{name}: permission denied, cannot read the {what}") from None
    except OSError as err:
        raise error(f"{name}: cannot read the {what} ({err.strerror or err})") from None
    if not stat.S_ISREG(mode):
        raise error(f"{name}: not a regular file ({file_kind(mode)}), cannot be read as the {what}")
    return path
