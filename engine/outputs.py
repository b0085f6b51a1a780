"""Where results go, checked before any computing, and written as complete sets.

- ``check_output_folder``: ``--out`` is (or can become) a folder this process can write in.
- ``distinct_stems``: inputs with the same file stem get distinct output names.
- ``refuse_existing``: nothing of the user's is overwritten unless they said so.
- ``ResultSet``: the JSON, NPZ and PNGs of one result are written under temporary names and
  renamed into place only when all are written, so a set is complete or absent, and an
  interrupt (Ctrl+C, SIGTERM) or a write failure leaves no ``.part`` file behind.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Callable, Iterable

from engine.errors import EngineError
from engine.strict_json import NonFiniteValueError


class OutputError(EngineError):
    """A result cannot be written: the folder is not writable, the disk is full, a file exists."""


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()  # read once at import: os.umask can only be read by setting it


def write_failure(path: Path | str, err: OSError) -> OutputError:
    """One line naming the file and the reason ("No space left on device")."""
    reason = err.strerror or (os.strerror(err.errno) if err.errno else "") or str(err)
    return OutputError(f"{path}: cannot write ({reason or type(err).__name__})")


def check_output_folder(folder: Path | str, option: str = "--out") -> Path:
    """Create ``folder`` if needed and prove it is writable, before anything is computed."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{option} {folder}: exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{option} {folder}: cannot create the folder ({err.strerror or err})") from None
    try:
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test.", suffix=".part")
        probe.close()  # deletes it
    except OSError as err:
        raise OutputError(f"{option} {folder}: cannot write in this folder ({err.strerror or err})") from None
    return folder


def distinct_stems(paths: Iterable[str | os.PathLike]) -> list[str]:
    """One output name per input, in order: the file stem, or where stems collide
    (``a/cat.png``, ``b/cat.png``) the path below their common folder (``a-cat``, ``b-cat``)."""
    paths = [Path(p) for p in paths]
    stems = [p.stem for p in paths]
    groups: dict[str, list[int]] = {}
    for i, stem in enumerate(stems):
        groups.setdefault(stem.casefold(), []).append(i)
    names = list(stems)
    for indices in groups.values():
        if len(indices) < 2:
            continue
        resolved = [paths[i].resolve() for i in indices]
        common = Path(os.path.commonpath([r.parent for r in resolved]))
        for i, full in zip(indices, resolved):
            relative = full.relative_to(common)
            parts = [*relative.parent.parts, full.stem]
            if sum(1 for r in set(resolved) if r.with_suffix("") == full.with_suffix("")) > 1:
                parts[-1] = full.name.replace(".", "-")  # cat.png and cat.jpg side by side
            names[i] = _safe_name("-".join(parts))
    seen: dict[str, int] = {}
    for i, name in enumerate(names):  # the same file given twice: cat, cat-2
        count = seen.get(name.casefold(), 0) + 1
        seen[name.casefold()] = count
        if count > 1:
            names[i] = f"{name}-{count}"
    return names


def _safe_name(text: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", text).strip("._") or "image"


CLASS_NAME_CHARS = 40  # a class name in a file name is cut here: file names stay short


def class_label(index: int, name: str = "") -> str:
    """``967-espresso``: a class as it appears in file names, the index first so names sort
    and stay unique, then the class name in safe characters ("/" and spaces become "_")."""
    plain = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9_\-]+", "_", plain).strip("_-")[:CLASS_NAME_CHARS].strip("_-")
    return f"{int(index)}-{safe}" if safe else str(int(index))


def class_png_name(stem: str, method: str, index: int, name: str = "") -> str:
    """The one name of a class's PNG, for the command line and the window alike:
    ``STEM.METHOD.INDEX-NAME.png`` (``coffee.shap.967-espresso.png``)."""
    return f"{stem}.{method}.{class_label(index, name)}.png"


def explanation_files(folder: Path, stem: str, method: str) -> list[Path]:
    """Files of one explanation that exist already: STEM.METHOD.json/.npz and its class PNGs
    (named ``INDEX-NAME`` now, ``INDEX`` before: both count, so neither is left stale)."""
    base = f"{stem}.{method}"
    found = [folder / f"{base}.{ext}" for ext in ("json", "npz")]
    pngs = re.compile(re.escape(base) + r"\.\d+(-[A-Za-z0-9_\-]*)?\.png$")
    found = [p for p in found if os.path.lexists(p)]
    if folder.is_dir():
        found += sorted(p for p in folder.iterdir() if pngs.match(p.name))
    return found


def refuse_existing(files: Iterable[Path], overwrite: bool, option: str = "--overwrite") -> None:
    """Stop with one line naming the first existing file, unless ``overwrite``."""
    if overwrite:
        return
    for path in files:
        if os.path.lexists(path):
            raise OutputError(f"{path}: exists already; nothing was written (give {option} to replace it)")


class ResultSet:
    """Files written together: each under a hidden temporary name, all renamed at ``commit``.

    Use as a context manager; leaving it without ``commit`` (an error, Ctrl+C, SIGTERM turned
    into an exception) removes every temporary file and leaves the folder as it was.
    """

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self._parts: list[tuple[Path, Path]] = []  # (temporary, final)

    def add(self, path: Path | str, write: Callable) -> Path:
        """``write(binary_file)`` into a temporary file that becomes ``path`` at commit."""
        final = Path(path)
        try:
            handle = tempfile.NamedTemporaryFile(dir=final.parent, prefix=f".{final.name}.", suffix=".part",
                                                 delete=False)
        except OSError as err:
            raise write_failure(final, err) from None
        temporary = Path(handle.name)
        self._parts.append((temporary, final))
        try:
            with handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())  # a full disk shows here at the latest, not after rename
            # Temporary files are private (0600); the result gets the usual permissions.
            os.chmod(temporary, 0o666 & ~_UMASK)
        except OSError as err:
            raise write_failure(final, err) from None
        except (ValueError, NonFiniteValueError) as err:  # data refused (non-finite JSON): say why
            raise OutputError(f"{final}: {err}") from None
        return final

    def commit(self) -> list[Path]:
        done = []
        for temporary, final in self._parts:
            try:
                os.replace(temporary, final)
            except OSError as err:
                raise write_failure(final, err) from None
            done.append(final)
        self._parts = []
        return done

    def discard(self) -> None:
        for temporary, _ in self._parts:
            try:
                temporary.unlink()
            except OSError:  # gone already, or an odd file system: nothing more to do
                pass
        self._parts = []

    def __enter__(self) -> "ResultSet":
        return self

    def __exit__(self, *exc) -> None:
        self.discard()  # after commit there is nothing left to discard
