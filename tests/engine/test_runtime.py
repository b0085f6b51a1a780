"""Start-up settings: the app's cache folder, and where a frozen app keeps compiled code."""

from __future__ import annotations

import os
import sys

import pytest

from engine import runtime


def test_cache_folder_is_configurable_and_shared(monkeypatch, tmp_path):
    from engine.openvino_forward import cache_dir

    monkeypatch.setenv("IMAGE_EXPLAINER_CACHE", str(tmp_path / "c"))
    assert runtime.user_cache_dir() == tmp_path / "c"
    assert cache_dir() == tmp_path / "c" / "openvino"


def test_without_the_variable_it_is_the_users_cache_folder(monkeypatch):
    import platformdirs

    monkeypatch.delenv("IMAGE_EXPLAINER_CACHE", raising=False)
    assert str(runtime.user_cache_dir()).startswith(platformdirs.user_cache_dir())


@pytest.fixture
def frozen_env(monkeypatch, tmp_path):
    for variable in ("MPLCONFIGDIR", "NUMBA_CACHE_DIR", "NUMBA_CACHE_LOCATOR_CLASSES"):
        monkeypatch.setenv(variable, "")  # so that what the test sets is undone afterwards
        monkeypatch.delenv(variable)
    return tmp_path


def test_a_frozen_app_keeps_compiled_code_in_the_cache_folder(monkeypatch, frozen_env):
    monkeypatch.setenv("IMAGE_EXPLAINER_CACHE", str(frozen_env / "cache"))
    runtime._prepare_frozen()
    assert os.environ["NUMBA_CACHE_DIR"] == str(frozen_env / "cache" / "numba")
    assert os.environ["MPLCONFIGDIR"] == str(frozen_env / "cache" / "matplotlib")
    assert (frozen_env / "cache" / "numba").is_dir()
    assert os.environ["NUMBA_CACHE_LOCATOR_CLASSES"] == "engine.numba_cache.FrozenAppCacheLocator"


def test_an_unwritable_cache_folder_falls_back_to_a_temporary_one(monkeypatch, frozen_env):
    blocker = frozen_env / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("IMAGE_EXPLAINER_CACHE", str(blocker))
    runtime._prepare_frozen()
    numba_dir = os.environ["NUMBA_CACHE_DIR"]
    assert not numba_dir.startswith(str(blocker)) and os.path.isdir(numba_dir)


def test_a_frozen_apps_kernels_find_their_source_inside_the_bundle(monkeypatch, tmp_path):
    """A frozen module names its source relative to the bundle; from any other working folder
    numba's own locator cannot find it (and the kernels would compile at every launch)."""
    from numba.core import config
    from numba.core.caching import UserProvidedCacheLocator

    from engine.explain import telea
    from engine.numba_cache import FrozenAppCacheLocator

    bundle = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(telea.__file__))))
    monkeypatch.setattr(sys, "_MEIPASS", bundle, raising=False)
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path / "numba"))
    monkeypatch.chdir(tmp_path)
    function = telea.hole_of.py_func
    relative = os.path.join("engine", "explain", "telea.py")

    assert UserProvidedCacheLocator.from_function(function, relative) is None
    locator = FrozenAppCacheLocator.from_function(function, relative)
    assert locator is not None and locator.get_cache_path().startswith(str(tmp_path / "numba"))
    assert FrozenAppCacheLocator.from_function(function, os.path.join("engine", "missing.py")) is None


def test_cached_njit_compiles_per_process_where_numba_cannot_cache():
    from engine.numba_cache import cached_njit

    namespace = {}
    exec(compile("def twice(x):\n    return 2 * x\n", "<generated>", "exec"), namespace)
    twice = cached_njit()(namespace["twice"])  # no source file: numba refuses cache=True
    assert twice(21) == 42
    assert not twice._cache_hits and twice._cache.__class__.__name__ == "NullCache"
