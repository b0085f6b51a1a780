"""numba's disk cache for the engine's compiled kernels, in a source tree and in the frozen app.

numba keys a cached function on its source file, which it finds from the function's code
object. In the frozen app those names are relative to the bundle ("engine/explain/telea.py"),
so numba finds the file only when the app is started from a folder that happens to hold one,
and otherwise compiles every kernel at every launch (seconds each). ``FrozenAppCacheLocator``
resolves the names inside the bundle (build.spec ships the sources); ``runtime`` names it to
numba in a frozen app, before numba is imported.
"""

from __future__ import annotations

import os
import sys

import numba
from numba.core.caching import UserProvidedCacheLocator


class FrozenAppCacheLocator(UserProvidedCacheLocator):
    """Caches in ``NUMBA_CACHE_DIR``, finding a function's source inside the app's bundle.
    (In a frozen app numba stamps the cache with the executable, so a rebuilt app starts a
    fresh one.)"""

    @classmethod
    def from_function(cls, py_func, py_file):
        bundle = getattr(sys, "_MEIPASS", None)
        if bundle and not os.path.isabs(py_file):
            py_file = os.path.join(bundle, py_file)
        return super().from_function(py_func, py_file)


def keep_in_disk_cache(dispatcher):
    """Ask numba to keep ``dispatcher``'s compiled code in its disk cache (compiled once, then
    loaded in a fraction of a second) where it has a place for it; else it compiles per process."""
    try:
        dispatcher.enable_caching()
    except RuntimeError:  # numba found no source file or cache folder for it
        pass
    return dispatcher


def cached_njit(**options):
    """``numba.njit`` whose compiled code is kept in numba's disk cache (``keep_in_disk_cache``)."""

    def decorate(function):
        return keep_in_disk_cache(numba.njit(**options)(function))

    return decorate
