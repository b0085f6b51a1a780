"""Finding and downloading the ResNet-50 ImageNet weights file.

Imports neither Qt nor keras: finding a file and streaming a download need neither, and
keras takes seconds to import. Downloads are atomic: bytes go to a hidden ``.part`` file
next to the destination, are checked against an MD5 hash, fsynced, and only then renamed
over the destination, so a failed, cancelled or corrupt download never leaves a
half-written weights file behind.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Optional, TextIO

from engine.errors import EngineError, WeightsMissingError, WrongWeightsError
from engine.jobs import CancelToken
from engine.resources import resource_path
from engine.safe_files import require_regular_file

__all__ = [
    "RESNET50_FILENAME",
    "RESNET50_URL",
    "RESNET50_MD5",
    "RESNET50_SIZE",
    "ENV_WEIGHTS_PATH",
    "ENV_WEIGHTS_URL",
    "ENV_WEIGHTS_MD5",
    "keras_cache_dir",
    "bundled_weights_path",
    "find_resnet50_weights",
    "missing_weights_error",
    "download_url",
    "expected_md5",
    "download_file",
    "download_resnet50_weights",
    "format_bytes",
    "TextProgressBar",
]

RESNET50_FILENAME = "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
RESNET50_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/resnet/" + RESNET50_FILENAME
)
RESNET50_MD5 = "2cb95161c43110f7111970584f804107"
RESNET50_SIZE = 102_853_048  # bytes, for information only (the hash is what is checked)

ENV_WEIGHTS_PATH = "IMAGE_EXPLAINER_WEIGHTS"
"""An explicit weights file, used when no ``--weights`` is given."""
ENV_WEIGHTS_URL = "IMAGE_EXPLAINER_WEIGHTS_URL"
"""Overrides the download URL (a mirror, or a local server in tests)."""
ENV_WEIGHTS_MD5 = "IMAGE_EXPLAINER_WEIGHTS_MD5"
"""Overrides the expected MD5; honoured only together with ``ENV_WEIGHTS_URL``."""

ProgressCallback = Callable[[int, int, str], None]

_STAGE = "download"
_USER_AGENT = "ImageExplainer/1 (+python-urllib)"


# --------------------------------------------------------------------------- finding


def _writable_or_creatable(path: Path) -> bool:
    """Whether ``path`` is a writable folder, or could be created as one."""
    probe = path
    while not probe.exists():
        parent = probe.parent
        if parent == probe:
            return False
        probe = parent
    return probe.is_dir() and os.access(probe, os.W_OK)


def keras_cache_dir() -> Path:
    """Where ``keras.utils.get_file`` caches model weights.

    ``$KERAS_HOME/models`` if ``KERAS_HOME`` is set, else ``~/.keras/models``; like keras,
    falls back to ``/tmp/.keras/models`` when that base folder cannot be written.
    """
    keras_home = os.environ.get("KERAS_HOME")
    if keras_home:
        base = Path(keras_home).expanduser()
    else:
        base = Path(os.path.expanduser("~")) / ".keras"
    if not _writable_or_creatable(base):
        tmp = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
        base = Path(tmp) / ".keras"
    return base / "models"


def bundled_weights_path() -> Path:
    """Where a copy shipped with the app would live (source tree or frozen bundle)."""
    return resource_path("weights", RESNET50_FILENAME)


def _existing_file(value: str | os.PathLike, origin: str) -> Path:
    path = Path(os.path.expanduser(os.fspath(value)))
    if not os.path.exists(path):
        raise EngineError(f"weights file not found: {path}{origin}")
    if not path.is_file():  # a FIFO or device would hang or never end when read
        require_regular_file(path, "weights file")
    return path


def find_resnet50_weights(explicit: str | os.PathLike | None = None) -> Path | None:
    """The ResNet-50 weights file to use, or None if there is none locally.

    First found wins: ``explicit`` (an error if it does not exist), then the file named by
    ``$IMAGE_EXPLAINER_WEIGHTS`` (same check), then a copy bundled with the app, then the
    keras download cache.
    """
    if explicit is not None and os.fspath(explicit) != "":
        return _existing_file(explicit, "")
    from_env = os.environ.get(ENV_WEIGHTS_PATH)
    if from_env:
        return _existing_file(from_env, f" (from {ENV_WEIGHTS_PATH})")
    for candidate in (bundled_weights_path(), keras_cache_dir() / RESNET50_FILENAME):
        if candidate.is_file():
            return candidate
    return None


def missing_weights_error() -> WeightsMissingError:
    """The one-line error for "no weights anywhere", naming the file and where to put it."""
    folder = str(keras_cache_dir())
    message = (
        f"ResNet-50 ImageNet weights not found: put {RESNET50_FILENAME} in {folder} "
        "(or pass --weights FILE; --weights none runs the untrained network)"
    )
    return WeightsMissingError(message, RESNET50_FILENAME, folder)


def wrong_weights_error(path: str | os.PathLike, exc: BaseException) -> WrongWeightsError:
    """Plain words for "these are not the ResNet-50 weights", whatever Keras raised."""
    path = Path(path)
    if _is_weights_container(path):
        reason = "its layers do not match"
    else:
        reason = "it is not a Keras weights file"
    message = (f"{path.name} does not hold ResNet-50 ImageNet weights ({reason}); "
               f"the file needed is {RESNET50_FILENAME} (Keras Applications)")
    return WrongWeightsError(message, path.name, reason, detail=_one_line(exc))


def _is_weights_container(path: Path) -> bool:
    """A readable HDF5 file or a .keras archive with weights: weights, just not these ones
    (a damaged or foreign file is "not a weights file")."""
    import zipfile

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return "model.weights.h5" in archive.namelist()
        import h5py  # comes with Keras; imported here, when a weights file has failed

        with h5py.File(path, "r"):
            return True
    except Exception:  # noqa: BLE001 - unreadable in any way: not a weights file
        return False


# --------------------------------------------------------------------------- downloading


def download_url() -> str:
    """The official URL, or ``$IMAGE_EXPLAINER_WEIGHTS_URL`` when set."""
    return os.environ.get(ENV_WEIGHTS_URL) or RESNET50_URL


def expected_md5() -> str:
    """The official MD5, or ``$IMAGE_EXPLAINER_WEIGHTS_MD5`` when the URL is overridden too."""
    if os.environ.get(ENV_WEIGHTS_URL):
        override = (os.environ.get(ENV_WEIGHTS_MD5) or "").strip().lower()
        if override:
            return override
    return RESNET50_MD5


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _host(url: str) -> str:
    try:
        return urllib.parse.urlsplit(url).netloc or url
    except ValueError:
        return url


def _network_error(url: str, err: BaseException) -> EngineError:
    """Turn anything urllib / http.client / socket raises into one clear line."""
    if isinstance(err, urllib.error.HTTPError):
        reason = _one_line(err.reason) if err.reason else ""
        text = f"download failed: HTTP {err.code} {reason}".rstrip() + f" from {url}"
    elif isinstance(err, urllib.error.URLError):
        reason = err.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            text = f"download failed: {_host(url)} did not answer in time"
        elif isinstance(reason, OSError) and reason.strerror:
            text = f"download failed: cannot reach {_host(url)} ({_one_line(reason.strerror)})"
        else:
            text = f"download failed: cannot reach {_host(url)} ({_one_line(reason)})"
    elif isinstance(err, http.client.IncompleteRead):
        text = f"download failed: connection to {_host(url)} closed before the file was complete"
    elif isinstance(err, (socket.timeout, TimeoutError)):
        text = f"download failed: {_host(url)} stopped sending (timed out)"
    elif isinstance(err, ConnectionResetError):
        text = f"download failed: connection to {_host(url)} was reset before the file was complete"
    elif isinstance(err, ConnectionError):
        text = f"download failed: connection to {_host(url)} lost ({type(err).__name__})"
    elif isinstance(err, ValueError):
        text = f"download failed: invalid URL {url!r} ({_one_line(err)})"
    elif isinstance(err, OSError) and err.strerror:
        text = f"download failed: {_one_line(err.strerror)} ({_host(url)})"
    else:
        detail = _one_line(err) or type(err).__name__
        text = f"download failed: {detail} ({_host(url)})"
    return EngineError(_one_line(text))


def _make_md5():
    try:
        return hashlib.md5(usedforsecurity=False)
    except TypeError:  # pragma: no cover - very old OpenSSL builds
        return hashlib.md5()


def download_file(
    url: str,
    dest: Path,
    md5: str | None,
    progress: Optional[ProgressCallback] = None,
    cancel: CancelToken | None = None,
    chunk_size: int = 1 << 20,
    timeout: float = 30,
) -> Path:
    """Download ``url`` to ``dest`` atomically, checking its MD5 (unless ``md5`` is None).

    Streams into a hidden ``.part`` file beside ``dest``, calling
    ``progress(done_bytes, total_bytes_or_0, "download")`` after each chunk and checking
    ``cancel`` before each one (raising ``engine.jobs.Cancelled``). On success the part
    file is fsynced and renamed over ``dest``. On any failure or cancel the part file is
    removed and ``dest`` is untouched; its folder is created if needed.

    Raises ``EngineError`` ("download failed: ...", one line) or ``Cancelled``.
    """
    dest = Path(dest)
    if cancel is not None:
        cancel.raise_if_cancelled()
    folder = dest.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EngineError(
            f"download failed: cannot create folder {folder} ({_one_line(err.strerror or err)})"
        ) from None

    try:
        part = tempfile.NamedTemporaryFile(
            dir=folder, delete=False, prefix="." + dest.name, suffix=".part"
        )
    except OSError as err:
        raise EngineError(
            f"download failed: cannot write in {folder} ({_one_line(err.strerror or err)})"
        ) from None
    part_path = Path(part.name)

    done = 0
    total = 0
    ok = False
    try:
        digest = _make_md5()
        try:
            request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
            response = urllib.request.urlopen(request, timeout=timeout)
        except (OSError, http.client.HTTPException, ValueError) as err:
            raise _network_error(url, err) from None
        with response:
            length = response.headers.get("Content-Length")
            try:
                total = max(0, int(length)) if length is not None else 0
            except ValueError:
                total = 0
            if progress is not None:
                progress(0, total, _STAGE)
            while True:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                try:
                    chunk = response.read(chunk_size)
                except (OSError, http.client.HTTPException, ValueError) as err:
                    raise _network_error(url, err) from None
                if not chunk:
                    break
                try:
                    part.write(chunk)
                except OSError as err:
                    raise EngineError(
                        f"download failed: cannot write {part_path} "
                        f"({_one_line(err.strerror or err)})"
                    ) from None
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, max(total, done) if total else 0, _STAGE)
        if total and done < total:
            raise EngineError(
                f"download failed: connection to {_host(url)} closed early "
                f"(got {done} of {total} bytes)"
            )
        if cancel is not None:
            cancel.raise_if_cancelled()
        got = digest.hexdigest()
        if md5 is not None and got.lower() != md5.strip().lower():
            raise EngineError(
                f"download failed: checksum mismatch for {dest.name} "
                f"(expected {md5.strip().lower()}, got {got})"
            )
        try:
            part.flush()
            os.fsync(part.fileno())
            part.close()
            os.replace(part_path, dest)
        except OSError as err:
            raise EngineError(
                f"download failed: cannot save {dest} ({_one_line(err.strerror or err)})"
            ) from None
        ok = True
        return dest
    finally:
        if not ok:
            try:
                part.close()
            except OSError:
                pass
            try:
                part_path.unlink()
            except FileNotFoundError:
                pass
            except OSError:  # pragma: no cover - best effort on odd file systems
                pass


def download_resnet50_weights(
    progress: Optional[ProgressCallback] = None, cancel: CancelToken | None = None
) -> Path:
    """Download the ResNet-50 weights into the keras cache, where keras also looks."""
    return download_file(
        download_url(),
        keras_cache_dir() / RESNET50_FILENAME,
        expected_md5(),
        progress=progress,
        cancel=cancel,
    )


# --------------------------------------------------------------------------- command line


def format_bytes(n: int | float) -> str:
    """A short human size: ``"512 B"``, ``"12.0 KB"``, ``"97.8 MB"``, ``"1.2 GB"`` (1024-based)."""
    n = float(n)
    if abs(n) < 1024:
        return f"{int(n)} B"
    for unit in ("KB", "MB", "GB"):
        n /= 1024.0
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.1f} {unit}"
    return f"{n:.1f} GB"  # pragma: no cover


_DEFAULT_STREAM = object()


class TextProgressBar:
    """A one-line, self-updating progress display for the command line.

    Use an instance as a progress callback: ``bar(done, total, stage)``. Writes to
    ``stream`` (``sys.stderr`` by default, looked up when the bar is made); a ``None``
    stream (as in a windowed frozen app) or one that fails just makes the bar silent.
    Updates are throttled to about ``1 / min_interval_s`` per second; the final update
    (``done == total``) is always shown. Call ``close()`` to end the line.
    """

    def __init__(
        self,
        stream: TextIO | None | object = _DEFAULT_STREAM,
        width: int = 24,
        min_interval_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        unit: str = "bytes",
    ):
        self.unit = unit  # "bytes" shows sizes and MB/s; any other word counts items of it
        self.stream = sys.stderr if stream is _DEFAULT_STREAM else stream
        self.width = max(0, int(width))
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._start: float | None = None
        self._last_write: float | None = None
        self._last_len = 0
        self._pending: str | None = None
        self._written = False
        self._closed = False

    def __call__(self, done: int, total: int, stage: str = _STAGE) -> None:
        if self._closed:
            return
        now = self._clock()
        if self._start is None:
            self._start = now
        line = self._render(done, total, stage, now - self._start)
        final = bool(total) and done >= total
        if (
            final
            or self._last_write is None
            or now - self._last_write >= self.min_interval_s
        ):
            self._last_write = now
            self._pending = None
            self._write_line(line)
        else:
            self._pending = line

    def _render(self, done: int, total: int, stage: str, elapsed: float) -> str:
        speed = done / elapsed if elapsed > 0 else 0.0
        if self.unit == "bytes":
            amount = format_bytes
            speed_text = f"{speed / (1024 * 1024):.1f} MB/s" if elapsed > 0 else "-- MB/s"
        else:
            amount = str
            speed_text = f"{speed:.0f} {self.unit}/s" if elapsed > 0 else f"-- {self.unit}/s"
        if total > 0:
            fraction = min(1.0, max(0.0, done / total))
            bar = ""
            if self.width:
                filled = int(round(fraction * self.width))
                bar = "[" + "#" * filled + "." * (self.width - filled) + "] "
            return (
                f"{stage} {bar}{fraction * 100:3.0f}%  "
                f"{amount(done)} / {amount(total)}  {speed_text}"
            )
        return f"{stage} {amount(done)}  {speed_text}"

    def _write(self, text: str) -> None:
        stream = self.stream
        if stream is None:
            return
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError, AttributeError):
            self.stream = None  # closed or broken stream: go quiet rather than fail a download

    def _write_line(self, line: str) -> None:
        padding = " " * max(0, self._last_len - len(line))
        self._last_len = len(line)
        self._write("\r" + line + padding)
        self._written = True

    def close(self) -> None:
        """Show the last throttled update, if any, and end the line."""
        if self._closed:
            return
        if self._pending is not None:
            self._write_line(self._pending)
            self._pending = None
        if self._written:
            self._write("\n")
        self._closed = True

    def __enter__(self) -> "TextProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
