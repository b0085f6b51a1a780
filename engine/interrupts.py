"""Ctrl+C and SIGTERM end a command-line run cleanly.

SIGTERM becomes an exception like Ctrl+C's ``KeyboardInterrupt``, so the same ``finally``
blocks run: unfinished result sets and ``.part`` downloads are removed, then the run exits
with the shell's usual status (130 for SIGINT, 143 for SIGTERM) and one line.
"""

from __future__ import annotations

import signal

EXIT_SIGINT, EXIT_SIGTERM = 128 + signal.SIGINT, 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (``kill PID``, a scheduler stopping the job)."""


def _raise_terminated(signum, frame):
    raise Terminated()


def install() -> None:
    """Turn SIGTERM into ``Terminated`` (main thread only, as Python's signal rules require)."""
    try:
        signal.signal(signal.SIGTERM, _raise_terminated)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread (a test calling main() from a worker): leave them
        pass


def exit_status(exc: KeyboardInterrupt) -> int:
    return EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT


def message(exc: KeyboardInterrupt) -> str:
    what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted (Ctrl+C)"
    return f"{what}: unfinished files were removed, finished result sets were kept"
