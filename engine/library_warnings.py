"""Warnings from libraries never reach the terminal as raw tracebacks-with-source-lines.

Deprecation notices are for developers, not for the person running a command: dropped.
Anything else becomes one line of ours (``warning: ...``), once per distinct message, so a
numpy overflow inside a loop is said once, not a thousand times.
"""

from __future__ import annotations

import sys
import warnings

_DEVELOPER_ONLY = (DeprecationWarning, PendingDeprecationWarning, FutureWarning, ImportWarning,
                   ResourceWarning)
_said: set[str] = set()


def _as_one_line(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, _DEVELOPER_ONLY):
        return
    text = " ".join(str(message).split()) or category.__name__
    if text in _said:
        return
    _said.add(text)
    stream = file or sys.stderr
    if stream is None:
        return
    if issubclass(category, RuntimeWarning) and "numpy" in str(filename):
        text = f"numerical problem while computing ({text}); results may be unreliable"
    try:
        stream.write(f"warning: {text}\n")
    except OSError:  # stderr gone: nothing to tell anyone
        pass


def one_line_warnings() -> None:
    """Route every warning through ``_as_one_line`` (command-line runs)."""
    warnings.showwarning = _as_one_line
