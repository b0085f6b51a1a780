"""Shared test set-up: makes ``known_models`` importable from every test folder."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from engine.runtime import prepare_environment  # noqa: E402

prepare_environment()
