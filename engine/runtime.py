"""Process-wide settings applied once at start-up, before heavy libraries load.

Frozen-app fixes live here too, in one place: worker processes must not start a second app,
a windowed build has no stdout/stderr, and matplotlib and numba need writable cache folders.
(TensorFlow's AutoGraph needs the engine's source files: build.spec ships them.)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from engine.resources import is_frozen


def user_cache_dir() -> Path:
    """The app's cache folder (converted networks, compiled kernels): ``IMAGE_EXPLAINER_CACHE``,
    else the user's cache folder. Kept across runs, unlike a temporary folder."""
    configured = os.environ.get("IMAGE_EXPLAINER_CACHE")
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("image-explainer", appauthor=False))


def prepare_environment() -> None:
    # shap and lime draw tqdm bars on stderr; the app reports progress itself.
    os.environ.setdefault("TQDM_DISABLE", "1")
    # TensorFlow's C++ info lines at import are noise to users.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if is_frozen():
        _prepare_frozen()


def _prepare_frozen() -> None:
    # A library that starts a worker process (multiprocessing, joblib) re-runs this
    # executable; freeze_support() turns that run into the worker instead of a second app.
    # PyInstaller's runtime hook makes it work on every platform, not only Windows.
    import multiprocessing

    multiprocessing.freeze_support()
    # A windowed build starts with sys.stdout/sys.stderr set to None; libraries that write
    # to them (tqdm, warnings, keras) would crash, so give them a sink.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))
    # Kept in the user's cache folder, so numba compiles the app's kernels (Telea inpainting,
    # shap's helpers) once, not at every launch; a temporary folder when that one cannot be
    # written.
    for variable, folder in (("MPLCONFIGDIR", "matplotlib"), ("NUMBA_CACHE_DIR", "numba")):
        if variable not in os.environ:
            os.environ[variable] = str(_writable_folder(folder))
    # numba names a frozen module's source relative to the bundle; this finds it there.
    os.environ.setdefault("NUMBA_CACHE_LOCATOR_CLASSES", "engine.numba_cache.FrozenAppCacheLocator")


def _writable_folder(name: str) -> Path:
    for base in (user_cache_dir(), Path(tempfile.gettempdir()) / "image-explainer-cache"):
        path = base / name
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path
    return Path(tempfile.mkdtemp(prefix=f"image-explainer-{name}-"))
