"""One thread that builds and renders matplotlib figures, so the GUI thread only shows pixels.

Building a 5-panel figure and rendering it with Agg takes 100-300 ms of pure Python; on the
GUI thread that froze the window mid-job. Figures made without pyplot may be drawn on any
thread as long as one thread at a time touches each: every canvas owns a lock that the
drawing thread holds while it works on that canvas's figure.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

_executor: ThreadPoolExecutor | None = None


def submit(task) -> Future:
    """Run ``task()`` on the drawing thread (tasks run one after another, in order)."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drawing")
    return _executor.submit(task)
