"""Start-up settings: the app's cache folder, and where a frozen app keeps compiled code."""

from __future__ import annotations

import os

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
    for variable in ("MPLCONFIGDIR", "NUMBA_CACHE_DIR"):
        monkeypatch.setenv(variable, "")  # so that what the test sets is undone afterwards
        monkeypatch.delenv(variable)
    return tmp_path


def test_a_frozen_app_keeps_compiled_code_in_the_cache_folder(monkeypatch, frozen_env):
    monkeypatch.setenv("IMAGE_EXPLAINER_CACHE", str(frozen_env / "cache"))
    runtime._prepare_frozen()
    assert os.environ["NUMBA_CACHE_DIR"] == str(frozen_env / "cache" / "numba")
    assert os.environ["MPLCONFIGDIR"] == str(frozen_env / "cache" / "matplotlib")
    assert (frozen_env / "cache" / "numba").is_dir()


def test_an_unwritable_cache_folder_falls_back_to_a_temporary_one(monkeypatch, frozen_env):
    blocker = frozen_env / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("IMAGE_EXPLAINER_CACHE", str(blocker))
    runtime._prepare_frozen()
    numba_dir = os.environ["NUMBA_CACHE_DIR"]
    assert not numba_dir.startswith(str(blocker)) and os.path.isdir(numba_dir)
