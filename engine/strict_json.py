"""JSON the app writes is strict: no NaN or Infinity, which most readers reject.

A non-finite float is a bug or a broken model, never a value to pass on silently, so
``dumps`` refuses it with the key path where it sits; values that are genuinely missing
are written as ``None`` (``null``) by the code that knows they are missing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from engine.errors import EngineError


class NonFiniteValueError(EngineError):
    """A NaN or infinite number on its way into a JSON file."""


def dumps(data, indent: int | None = 2) -> str:
    """``json.dumps`` with numpy scalars and arrays, paths, and no NaN/Infinity allowed."""
    where = _first_non_finite(data, "")
    if where is not None:
        raise NonFiniteValueError(f"not a finite number at {where or 'the top level'}; nothing was written")
    return json.dumps(data, indent=indent, default=_jsonable, allow_nan=False)


def _first_non_finite(value, where: str) -> str | None:
    if isinstance(value, (float, np.floating)):
        return None if math.isfinite(value) else where
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
            return where
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _first_non_finite(item, f"{where}.{key}" if where else str(key))
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _first_non_finite(item, f"{where}[{i}]")
            if found is not None:
                return found
    return None


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
