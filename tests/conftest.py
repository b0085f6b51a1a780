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


# The real EfficientNet-Lite0 (tests/real_model.py) is rebuilt from its PyTorch weights once
# and kept across runs: the file name carries a hash of the weights, so it never goes stale.
_REAL_MODELS = Path(os.environ.get("IMAGE_EXPLAINER_TEST_MODELS",
                                   Path.home() / ".cache" / "image-explainer-tests"))


@pytest.fixture(scope="session")
def efficientnet_lite0():
    """``path(variant="softmax")``: the trained network's ``.keras`` file with that head
    layout (``real_model.VARIANTS``), built on first use."""
    from real_model import efficientnet_lite0_keras

    return lambda variant="softmax": efficientnet_lite0_keras(_REAL_MODELS, variant)
@pytest.fixture(scope="session")
def ray_runtime():
    """One local Ray runtime for the whole run (starting one takes about 10 s)."""
    import ray

    from engine.batch_ray import connect

    connect("auto", workers=2)
    yield ray
    ray.shutdown()
