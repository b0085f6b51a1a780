"""What the app is and what it runs on: its version and the libraries' versions, for
Help ▸ About and ``--version``. Cheap: nothing heavy is imported just to name a version."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

from engine import __version__

APP_NAME = "Image Explainer"
# Where each backend's version is found when it is not imported yet (TensorFlow has builds).
BACKEND_PACKAGES = {"tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-intel"), "jax": ("jax",),
                    "torch": ("torch",)}


def version_line() -> str:
    return f"{APP_NAME} {__version__}"


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def keras_backend() -> str:
    """The Keras backend and its version; read from Keras only once it is loaded (importing
    it takes seconds), else from the setting Keras will read."""
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        name = keras.backend.backend()
    else:
        name = os.environ.get("KERAS_BACKEND", "").strip() or "tensorflow"
    module = sys.modules.get(name)
    version = getattr(module, "__version__", None) or next(
        (v for v in map(package_version, BACKEND_PACKAGES.get(name, (name,))) if v), None)
    return f"{name} {version}" if version else name


def runtime_versions() -> dict[str, str]:
    """Python, Keras and its backend (the window adds Qt's)."""
    return {"Python": platform.python_version(), "Keras": package_version("keras") or "not installed",
            "Keras backend": keras_backend()}
