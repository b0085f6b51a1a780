"""``batch FOLDER --out DIR``: explain every image of a folder tree, resumably.

- Streams: paths are listed (strings), images are decoded a few at a time by a reader
  thread ahead of the worker, and each result is written and dropped before the next.
- ``DIR/index.sqlite`` is the source of truth. An image's files are written first, then its
  rows in one transaction, so a run killed at any moment (``kill -9`` included) loses at
  most the images in flight; the next run of the same command does exactly those.
- A DIR holds one model and one set of settings: another run with different ones is refused
  (``--restart`` replaces the earlier results).
- At the end (also after Ctrl-C) ``summary.csv`` and ``report.html`` are written from the index.
  Images recorded earlier but no longer in FOLDER are left out of them (one line says so);
  their rows and files stay in DIR, so putting an image back brings it back without work.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from engine.batch_index import INDEX_NAME, BatchIndex
from engine.batch_terminal import image_bar, report_outcome
from engine.batch_worker import RESULTS_FOLDER, BatchSettings, ImageWorker
from engine.errors import EngineError

PREFETCH = 4  # decoded images waiting for the worker: memory stays flat whatever the folder
OUTPUT_FILES = ("summary.csv", "report.html")


class BatchRefused(EngineError):
    """The output folder holds something this run must not mix with or overwrite."""


@dataclass
class BatchRun:
    folder: Path
    out: Path
    settings: BatchSettings
    workers: int = 1
    ray: str | None = None  # None: in this process; "auto" or a cluster address
    restart: bool = False
    # Called after each image is recorded, with the outcome and the workers (Ray: the actors).
    on_outcome: Callable | None = None


def walk_images(root: Path, skip: Path | None = None):
    """Relative paths (POSIX) of the image files under ``root``, sorted, hidden ones left out."""
    from engine.images import is_image_file

    skip = skip.resolve() if skip is not None else None
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".")
                               and (skip is None or (here / d).resolve() != skip))
        for name in sorted(files):
            path = here / name
            if not name.startswith(".") and is_image_file(name) and path.is_file():
                yield path.relative_to(root).as_posix()


def model_identity(spec) -> dict:
    """What names the model before it is loaded: its settings and, for files, size and time."""
    identity = {k: v for k, v in vars(spec).items()}
    for key in ("model", "weights", "labels"):
        value = identity.get(key)
        if value and value not in ("resnet50", "none") and os.path.exists(value):
            stat = os.stat(value)
            identity[f"{key}_file"] = [os.path.abspath(value), stat.st_size, stat.st_mtime_ns]
    return identity


def run_batch(run: BatchRun, load_classifier, out=None, err=None) -> int:
    """Run (or resume) a batch; returns the exit status (0 all done, 1 some images failed,
    130 stopped by Ctrl-C). ``load_classifier()`` is called only when there is work to do."""
    out, err = out or sys.stdout, err or sys.stderr
    root, dest = run.folder, run.out
    if not root.is_dir():
        raise EngineError(f"{root}: folder not found")
    if dest.exists() and not dest.is_dir():
        raise BatchRefused(f"--out {dest}: not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / INDEX_NAME).exists():
        raise BatchRefused(f"--out {dest}: the folder is not empty and holds no batch run; "
                           "choose a new or empty folder")
    dest.mkdir(parents=True, exist_ok=True)
    index = BatchIndex(dest)
    try:
        return _run(run, index, load_classifier, out, err)
    finally:
        index.close()


def _run(run: BatchRun, index: BatchIndex, load_classifier, out, err) -> int:
    settings = run.settings
    request_key = json.dumps({"model": model_identity(settings.model), "numbers": settings.numbers_key()},
                             sort_keys=True, default=str)
    paths = list(walk_images(run.folder, skip=run.out))
    if not paths:
        raise EngineError(f"{run.folder}: no image files found")
    done = index.done()
    pending = [p for p in paths if p not in done]
    gone = index.recorded_except(set(paths))
    if not run.restart and not pending and index.meta("request") == request_key:
        _write_outputs(index, run, settings, gone, quiet=not gone)
        _say_left_out(gone, run, out)
        print(f"nothing to do: all {len(paths)} images are done in {run.out}", file=out)
        return 0

    classifier = load_classifier()
    from engine.store import model_fingerprint

    run_key = json.dumps({"model": model_fingerprint(classifier), "numbers": settings.numbers_key()},
                         sort_keys=True)
    stored = index.meta("run")
    if stored is not None and stored != run_key and not run.restart:
        raise BatchRefused(f"{run.out} holds results of another model or other settings; "
                           "use --restart to replace them, or choose another --out")
    if run.restart and (stored is not None or done):
        _forget_earlier_run(index, run.out)
        done, pending, gone = set(), paths, frozenset()
    index.set_meta({"run": run_key, "request": request_key, "folder": str(run.folder.resolve()),
                    "methods": ",".join(settings.methods), "model": classifier.label})
    print(f"{len(pending)} of {len(paths)} images to explain ({len(paths) - len(pending)} done earlier)  "
          f"[{classifier.label}]", file=out)
    interrupted = False
    try:
        if run.ray is not None:
            from engine.batch_ray import run_on_ray

            run_on_ray(run, pending, index, err, on_outcome=run.on_outcome)
        else:
            _run_here(run, pending, index, classifier, err)
    except KeyboardInterrupt:
        interrupted = True
    counts = index.counts(gone)
    _write_outputs(index, run, settings, gone)
    _say_left_out(gone, run, out)
    failed = counts.get("failed", 0)
    if interrupted:
        print(f"stopped: {counts.get('done', 0)} of {len(paths)} images done; run the same command "
              "again to go on", file=err)
        return 130
    print(f"{counts.get('done', 0)} images done, {failed} failed -> {run.out / 'report.html'}", file=out)
    return 1 if failed else 0


def _run_here(run: BatchRun, pending: list[str], index: BatchIndex, classifier, err) -> None:
    """One worker in this process; a reader thread decodes the next few images meanwhile."""
    worker = ImageWorker(run.settings, run.folder, run.out, classifier=classifier)
    with image_bar(len(pending), err) as bar:
        for relpath, image, error in _prefetched(run.folder, pending):
            outcome = worker.process(relpath, image, error)
            index.record(outcome)
            report_outcome(outcome, bar, err)
            bar.update(1)
            if run.on_outcome is not None:
                run.on_outcome(outcome, [worker])


def _prefetched(root: Path, pending: list[str]):
    """(relpath, image or None, error) in order, decoded ``PREFETCH`` ahead by a thread."""
    from engine.images import load_image

    slots: queue.Queue = queue.Queue(maxsize=PREFETCH)
    stop = threading.Event()

    def read() -> None:
        for relpath in pending:
            try:
                item = (relpath, load_image(root / relpath), "")
            except (EngineError, OSError) as exc:
                item = (relpath, None, str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable")
            while not stop.is_set():
                try:
                    slots.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return
        slots.put(None)

    reader = threading.Thread(target=read, name="batch-reader", daemon=True)
    reader.start()
    try:
        while (item := slots.get()) is not None:
            yield item
    finally:
        stop.set()


def _forget_earlier_run(index: BatchIndex, dest: Path) -> None:
    """``--restart``: the earlier results in DIR go (only what a batch run writes there)."""
    index.clear()
    shutil.rmtree(dest / RESULTS_FOLDER, ignore_errors=True)
    for name in OUTPUT_FILES:
        (dest / name).unlink(missing_ok=True)


def _write_outputs(index: BatchIndex, run: BatchRun, settings: BatchSettings, gone: frozenset[str],
                   quiet: bool = False) -> None:
    """summary.csv and report.html of the images now in FOLDER (``gone``: recorded, not there)."""
    from engine.report import write_report, write_summary_csv

    if quiet and all((run.out / name).exists() for name in OUTPUT_FILES):
        return
    write_summary_csv(index, run.out / "summary.csv", leave_out=gone)
    write_report(index, run.out / "report.html", title=f"{run.folder.name or run.folder}",
                 methods=list(settings.methods), model=index.meta("model") or "", leave_out=gone)


def _say_left_out(gone: frozenset[str], run: BatchRun, out) -> None:
    if gone:
        one = len(gone) == 1
        print(f"{len(gone)} {'image' if one else 'images'} no longer in {run.folder} "
              f"{'was' if one else 'were'} left out of the report; {'its' if one else 'their'} files "
              f"stay in {run.out}", file=out)
