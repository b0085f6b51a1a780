"""Custom Keras objects from a user's own Python file, for a model they trust.

Running the file is the point (it defines and registers the layers the model needs), so it
is only ever done for a trusted model. Everything the file defines at its top level and
anything it registers with ``keras.saving.register_keras_serializable`` becomes known.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path

from engine.errors import ModelError, first_line
from engine.safe_files import require_regular_file


def load_custom_objects(path: str | Path) -> dict:
    """Run ``path`` (a .py file) and return ``{name: object}`` of the classes and functions it
    defines, for ``keras.saving.load_model(custom_objects=...)``."""
    path = require_regular_file(path, "custom objects file", ModelError)
    if path.suffix.lower() != ".py":
        raise ModelError(f"{path.name}: custom objects must be a Python file (.py)")
    module_name = f"_custom_objects_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelError(f"{path.name}: cannot load this Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(module_name, None)
        raise ModelError(f"{path.name}: line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:  # the user's code failed: say where, in one line
        sys.modules.pop(module_name, None)
        raise ModelError(f"{path.name}: failed to run: {type(exc).__name__}: {first_line(exc)}") from None
    found = getattr(module, "custom_objects", None)
    if isinstance(found, dict):
        return dict(found)
    return {name: value for name, value in vars(module).items()
            if not name.startswith("_") and (inspect.isclass(value) or inspect.isfunction(value))
            and getattr(value, "__module__", None) == module_name}
