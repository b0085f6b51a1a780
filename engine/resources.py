"""One way to find the files the app ships, from source and from the frozen app."""

from __future__ import annotations

import sys
from pathlib import Path


def app_root() -> Path:
    """The folder holding ``resources/``: the repository, or PyInstaller's unpack folder."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    return Path(__file__).resolve().parent.parent


def resource_path(*parts: str) -> Path:
    return app_root().joinpath("resources", *parts)


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))
