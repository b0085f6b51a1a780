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
    cache = Path(tempfile.gettempdir()) / "image-explainer-cache"
    for variable, folder in (("MPLCONFIGDIR", "matplotlib"), ("NUMBA_CACHE_DIR", "numba")):
        if variable not in os.environ:
            path = cache / folder
            path.mkdir(parents=True, exist_ok=True)
            os.environ[variable] = str(path)
