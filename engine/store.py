"""Stored results: one explanation (with its score and stability) per model, image, method, settings.

An SQLite index (Python's embedded ``sqlite3``, schema versioned) points at NPZ/JSON pairs
beside it. Writes go file first, then row, in one transaction: a crash between the two
leaves an orphan file (removed by ``sweep()``), never a row pointing at a missing file. Rows
whose files have gone anyway (deleted by hand) are dropped when read. A size limit evicts
the least recently used results.

The key says everything that changes the numbers: the model fingerprint (architecture,
weights, preprocessing, input size, class names, precision), the hash of the exact model
input, the method, its parameters (work-splitting ones such as batch sizes left out), the
classes explained, and the scoring and stability settings.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path

import numpy as np

from engine import strict_json
from engine.export import atomic_write
from engine.jobs import Explanation

SCHEMA_VERSION = 1
DEFAULT_LIMIT_BYTES = 2 * 1024**3
# Parameters that only split the work into batches: they do not change a map.
WORK_SPLITTING = frozenset({"batch_size", "background_images"})


def model_fingerprint(classifier) -> str:
    """Hash of what makes a model give its numbers: architecture, weights, preprocessing."""
    digest = hashlib.blake2b(digest_size=16)
    model = getattr(classifier, "keras_model", None)
    if model is not None:
        try:
            digest.update(model.to_json().encode())
        except Exception:  # noqa: BLE001 - SavedModel wrappers have no JSON; weights still count
            digest.update(type(model).__name__.encode())
        for weight in model.weights:
            digest.update(np.ascontiguousarray(np.asarray(weight)).tobytes())
    network_digest = getattr(classifier, "network_digest", None)  # ONNX: the file's bytes
    if network_digest is not None:
        digest.update(network_digest().encode())
    for part in (getattr(classifier, "preprocess_mode", ""), tuple(classifier.input_size),
                 tuple(classifier.class_names), getattr(classifier, "precision", "float32"),
                 getattr(classifier, "outputs_probabilities", True)):
        digest.update(repr(part).encode())
    return digest.hexdigest()


def image_hash(image: np.ndarray) -> str:
    """Hash of the exact model input (pixels and shape)."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    digest = hashlib.blake2b(repr(image.shape).encode(), digest_size=16)
    digest.update(image.tobytes())
    return digest.hexdigest()


def params_key(params) -> dict:
    """The parameters that change the numbers, as plain JSON data."""
    data = asdict(params) if is_dataclass(params) else dict(params or {})
    return {k: v for k, v in sorted(data.items()) if k not in WORK_SPLITTING}


@dataclass(frozen=True)
class ResultKey:
    model: str
    image: str
    method: str
    settings: str  # JSON of the params, classes, scoring and stability settings

    @classmethod
    def make(cls, model: str, image: str, method: str, params, classes, scoring_steps: int = 0,
             stability: int = 0, seed: int | None = None) -> "ResultKey":
        settings = {"params": params_key(params), "classes": [int(c) for c in classes],
                    "scoring_steps": int(scoring_steps), "stability": int(stability), "seed": seed}
        return cls(model, image, method, json.dumps(settings, sort_keys=True, default=str))

    @property
    def digest(self) -> str:
        text = "\n".join((self.model, self.image, self.method, self.settings))
        return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


@dataclass
class StoredResult:
    explanation: Explanation
    scores: dict | None
    stability: dict | None
    created: float  # seconds since the epoch: when it was computed


class ResultStore:
    """``get``/``put`` results under a folder; safe to open from several processes."""

    def __init__(self, folder: str | Path, limit_bytes: int = DEFAULT_LIMIT_BYTES):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.limit_bytes = int(limit_bytes)
        self._db = sqlite3.connect(self.folder / "store.sqlite", timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._create()

    def _create(self) -> None:
        with self._transaction():
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is not None and int(row[0]) != SCHEMA_VERSION:
                # An older layout: its results cannot be read back reliably; start afresh.
                self._db.execute("DROP TABLE IF EXISTS results")
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            self._db.execute("""CREATE TABLE IF NOT EXISTS results (
                digest TEXT PRIMARY KEY, model TEXT, image TEXT, method TEXT, settings TEXT,
                created REAL, accessed REAL, bytes INTEGER, stem TEXT)""")
            self._db.execute("CREATE INDEX IF NOT EXISTS results_accessed ON results (accessed)")

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _transaction(self):
        return _Transaction(self._db)

    def _paths(self, stem: str) -> tuple[Path, Path]:
        base = self.folder / "objects" / stem[:2] / stem
        return base.with_suffix(".npz"), base.with_suffix(".json")

    def put(self, key: ResultKey, explanation: Explanation, scores: dict | None = None,
            stability: dict | None = None) -> None:
        """Store one result: files first (atomically), then the row in a transaction."""
        stem = f"{key.digest}-{time.time_ns():x}"  # a new name each time: a row's files never change
        npz, info = self._paths(stem)
        npz.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"maps": explanation.maps.astype(np.float32), "image": explanation.image.astype(np.uint8)}
        arrays.update({f"extra_{k}": np.asarray(v) for k, v in explanation.extras.items()})
        for prefix, part in (("scores_", scores), ("stability_", stability)):
            arrays.update({prefix + k: v for k, v in (part or {}).items() if isinstance(v, np.ndarray)})
        plain = {"method": explanation.method, "classes": explanation.classes,
                 "class_names": explanation.class_names, "probabilities": explanation.probabilities,
                 "params": explanation.params, "timings": explanation.timings,
                 "versions": explanation.versions, "model": explanation.model,
                 "untrained": explanation.untrained, "head": explanation.head,
                 "scores": _plain(scores), "stability": _plain(stability)}
        atomic_write(npz, lambda f: np.savez_compressed(f, **arrays))
        atomic_write(info, lambda f: f.write(strict_json.dumps(plain).encode()))
        size = npz.stat().st_size + info.stat().st_size
        now = time.time()
        with self._transaction():
            old = self._db.execute("SELECT stem FROM results WHERE digest=?", (key.digest,)).fetchone()
            self._db.execute("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?)",
                             (key.digest, key.model, key.image, key.method, key.settings, now, now, size, stem))
        if old is not None:
            self._remove_files(old[0])
        self.evict()

    def get(self, key: ResultKey) -> StoredResult | None:
        """The stored result, or None; a row whose files are missing or broken is dropped."""
        row = self._db.execute("SELECT stem, created FROM results WHERE digest=?", (key.digest,)).fetchone()
        if row is None:
            return None
        stem, created = row
        npz, info = self._paths(stem)
        try:
            plain = json.loads(info.read_text())
            with np.load(npz, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, KeyError):
            self._forget(key.digest, stem)
            return None
        with self._transaction():
            self._db.execute("UPDATE results SET accessed=? WHERE digest=?", (time.time(), key.digest))
        explanation = Explanation(
            method=plain["method"], image=arrays["image"], classes=plain["classes"],
            class_names=plain["class_names"], probabilities=plain["probabilities"], maps=arrays["maps"],
            params=plain["params"], timings=plain["timings"], versions=plain["versions"],
            model=plain["model"], untrained=plain["untrained"], head=plain.get("head", ""),
            extras={k[len("extra_"):]: v for k, v in arrays.items() if k.startswith("extra_")})
        return StoredResult(explanation, _merge(plain["scores"], arrays, "scores_"),
                            _merge(plain["stability"], arrays, "stability_"), float(created))

    def total_bytes(self) -> int:
        return int(self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM results").fetchone()[0])

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def evict(self) -> int:
        """Drop least recently used results until the total is within the limit."""
        removed = 0
        while self.total_bytes() > self.limit_bytes:
            row = self._db.execute("SELECT digest, stem FROM results ORDER BY accessed LIMIT 1").fetchone()
            if row is None:
                break
            self._forget(*row)
            removed += 1
        return removed

    def clear(self) -> None:
        """Remove every stored result (rows and files)."""
        with self._transaction():
            stems = [r[0] for r in self._db.execute("SELECT stem FROM results")]
            self._db.execute("DELETE FROM results")
        for stem in stems:
            self._remove_files(stem)
        self.sweep(min_age_s=0)

    def sweep(self, min_age_s: float = 600.0) -> int:
        """Remove files no row points at: left by a crash between file and row, or half-written
        temporary files. Only those older than ``min_age_s``, so another process's write that
        is about to commit its row is left alone."""
        known = {r[0] for r in self._db.execute("SELECT stem FROM results")}
        removed = 0
        objects = self.folder / "objects"
        cutoff = time.time() - min_age_s
        for path in objects.glob("*/*") if objects.is_dir() else ():
            orphan = path.name.startswith(".") or path.stem not in known
            if orphan and path.is_file() and path.stat().st_mtime <= cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def _forget(self, digest: str, stem: str) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM results WHERE digest=? AND stem=?", (digest, stem))
        self._remove_files(stem)

    def _remove_files(self, stem: str) -> None:
        for path in self._paths(stem):
            path.unlink(missing_ok=True)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error): one writer at a time."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self):
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, kind, value, traceback):
        self._db.execute("ROLLBACK" if kind else "COMMIT")


def _plain(part: dict | None) -> dict | None:
    if part is None:
        return None
    return {k: v for k, v in part.items() if not isinstance(v, np.ndarray)}


def _merge(plain: dict | None, arrays: dict, prefix: str) -> dict | None:
    if plain is None:
        return None
    plain.update({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
    return plain

