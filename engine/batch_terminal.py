"""What a batch run says on the terminal: one progress bar of images, one line per failure.

Shared by the local run (engine.batch) and the Ray run (engine.batch_ray).
"""

from __future__ import annotations

import sys


def image_bar(total: int, err):
    """The images bar (rate, ETA) on ``err``; silent when that is not the terminal."""
    from tqdm import tqdm

    return tqdm(total=total, unit="img", file=err, dynamic_ncols=True, smoothing=0.1,
                disable=None if err is sys.__stderr__ else True)


def report_outcome(outcome, bar, err) -> None:
    """One line per failed image (the bar stays below it)."""
    if outcome.status != "done":
        bar.write(f"error: {outcome.relpath}: {outcome.error}", file=err)
    for row in outcome.methods:
        if row.status != "done" and outcome.status == "done":
            bar.write(f"error: {outcome.relpath}: {row.method}: {row.error}", file=err)
