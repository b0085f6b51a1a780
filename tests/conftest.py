"""Shared test set-up: makes ``known_models`` importable from every test folder."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from engine.runtime import prepare_environment  # noqa: E402

prepare_environment()

import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

import pytest  # noqa: E402

# Converted networks (engine/openvino_forward.py) go to a folder of this run, not the
# person's cache; command-line tests in subprocesses inherit it.
_CACHE = tempfile.mkdtemp(prefix="image-explainer-test-cache-")
os.environ["IMAGE_EXPLAINER_CACHE"] = _CACHE


@pytest.fixture(scope="session", autouse=True)
def _remove_test_cache():
    yield
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_runtime():
    """One local Ray runtime for the whole run (starting one takes about 10 s)."""
    import ray

    from engine.batch_ray import connect

    connect("auto", workers=2)
    yield ray
    ray.shutdown()
