"""``DIR/index.sqlite`` of a batch run: the source of truth for what is done.

One row per image (status, true class, thumbnail) and one per image × method (status, error,
top classes, scores, timings, file paths). An image's rows are written in one transaction
after its files are in place, so a run killed at any moment leaves every image either fully
recorded or not at all; the next run does the missing ones.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA_VERSION = 1
INDEX_NAME = "index.sqlite"


@dataclass
class MethodRow:
    method: str
    status: str  # done | failed
    error: str = ""
    top_classes: list = field(default_factory=list)  # [{index, name, probability}] explained classes
    scores: dict | None = None  # plain faithfulness summary
    timings: dict = field(default_factory=dict)
    json_path: str = ""
    npz_path: str = ""
    thumbnail: bytes = b""  # small JPEG of the first class's map over the image


@dataclass
class ImageOutcome:
    """What a worker sends back for one image: small, plain data (crosses process boundaries)."""

    relpath: str
    status: str  # done | failed
    error: str = ""
    true_name: str | None = None
    predictions: list = field(default_factory=list)  # top classes [{index, name, probability}]
    thumbnail: bytes = b""
    methods: list[MethodRow] = field(default_factory=list)
    seconds: float = 0.0


class BatchIndex:
    def __init__(self, folder: Path):
        self.path = Path(folder) / INDEX_NAME
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self._db.execute("""CREATE TABLE IF NOT EXISTS images (relpath TEXT PRIMARY KEY, status TEXT,
            error TEXT, true_name TEXT, predictions TEXT, thumbnail BLOB, seconds REAL, updated REAL)""")
        self._db.execute("""CREATE TABLE IF NOT EXISTS results (relpath TEXT, method TEXT, status TEXT,
            error TEXT, top_classes TEXT, scores TEXT, timings TEXT, json_path TEXT, npz_path TEXT,
            thumbnail BLOB, PRIMARY KEY (relpath, method))""")
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, values: dict[str, str]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))
        self._db.execute("COMMIT")

    def done(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT relpath FROM images WHERE status='done'")}

    def record(self, outcome: ImageOutcome) -> None:
        """All rows of one image, in one transaction (replacing an earlier failed attempt)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM results WHERE relpath=?", (outcome.relpath,))
            db.execute("INSERT OR REPLACE INTO images VALUES (?,?,?,?,?,?,?,?)",
                       (outcome.relpath, outcome.status, outcome.error, outcome.true_name,
                        json.dumps(outcome.predictions), outcome.thumbnail, outcome.seconds, time.time()))
            db.executemany("INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?)", [
                (outcome.relpath, m.method, m.status, m.error, json.dumps(m.top_classes),
                 json.dumps(m.scores) if m.scores is not None else None, json.dumps(m.timings),
                 m.json_path, m.npz_path, m.thumbnail) for m in outcome.methods])
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def clear(self) -> list[str]:
        """Forget every image; returns the files the rows pointed at (for the caller to remove)."""
        files = [p for row in self._db.execute("SELECT json_path, npz_path FROM results") for p in row if p]
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("DELETE FROM results")
        self._db.execute("DELETE FROM images")
        self._db.execute("DELETE FROM meta WHERE key != 'schema'")
        self._db.execute("COMMIT")
        return files

    def counts(self, leave_out: frozenset[str] = frozenset()) -> dict[str, int]:
        """Images per status, not counting the paths in ``leave_out``."""
        counts: dict[str, int] = {}
        for relpath, status in self._db.execute("SELECT relpath, status FROM images"):
            if relpath not in leave_out:
                counts[status] = counts.get(status, 0) + 1
        return counts

    def recorded_except(self, present: set[str]) -> frozenset[str]:
        """Recorded images whose path is not in ``present`` (removed from the folder since)."""
        return frozenset(r[0] for r in self._db.execute("SELECT relpath FROM images") if r[0] not in present)

    def images(self, leave_out: frozenset[str] = frozenset()):
        """Every image row but those in ``leave_out``, in path order, one at a time (the report
        streams them)."""
        cursor = self._db.execute("SELECT relpath, status, error, true_name, predictions, thumbnail, seconds "
                                  "FROM images ORDER BY relpath")
        for relpath, status, error, true_name, predictions, thumbnail, seconds in cursor:
            if relpath in leave_out:
                continue
            yield {"relpath": relpath, "status": status, "error": error, "true_name": true_name,
                   "predictions": json.loads(predictions or "[]"), "thumbnail": thumbnail or b"",
                   "seconds": seconds}

    def method_rows(self, relpath: str | None = None):
        query = ("SELECT relpath, method, status, error, top_classes, scores, timings, json_path, npz_path, "
                 "thumbnail FROM results")
        cursor = (self._db.execute(query + " WHERE relpath=? ORDER BY method", (relpath,)) if relpath
                  else self._db.execute(query + " ORDER BY relpath, method"))
        for row in cursor:
            yield {"relpath": row[0], "method": row[1], "status": row[2], "error": row[3],
                   "top_classes": json.loads(row[4] or "[]"),
                   "scores": json.loads(row[5]) if row[5] else None,
                   "timings": json.loads(row[6] or "{}"), "json_path": row[7], "npz_path": row[8],
                   "thumbnail": row[9] or b""}
