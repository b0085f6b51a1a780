"""The engine imports no Qt: it must run headless, in scripts, tests and the CLI.

Three checks, because each misses something the others catch:
- ``lint-imports`` (contracts in ``.importlinter``): static, sees imports inside functions too;
- a scan of every engine source file for the Qt names import-linter cannot express
  (matplotlib's Qt backends are subpackages of an external package);
- a fresh interpreter that imports every engine module and then looks at ``sys.modules``,
  which also catches Qt pulled in indirectly by a third-party library at import time.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "engine"

# Top-level packages that are Qt (or bind to it); none may be imported by the engine.
QT_PACKAGES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "superqt", "qtpy")
# matplotlib backends that load Qt.
QT_MATPLOTLIB_BACKENDS = (
    "matplotlib.backends.backend_qtagg",
    "matplotlib.backends.backend_qtcairo",
    "matplotlib.backends.backend_qt",
    "matplotlib.backends.backend_qt5agg",
    "matplotlib.backends.backend_qt5",
    "matplotlib.backends.qt_compat",
)


def _is_qt(name: str) -> bool:
    top = name.split(".")[0]
    return top in QT_PACKAGES or any(
        name == backend or name.startswith(backend + ".") for backend in QT_MATPLOTLIB_BACKENDS
    )


def _lint_imports_executable() -> Path:
    scripts = Path(sys.executable).parent
    for name in ("lint-imports", "lint-imports.exe"):
        candidate = scripts / name
        if candidate.exists():
            return candidate
    pytest.fail(f"lint-imports not found next to {sys.executable}: install requirements-dev.txt")


def test_import_linter_contracts_are_kept():
    result = subprocess.run(
        [str(_lint_imports_executable()), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"lint-imports failed:\n{output}"
    assert "BROKEN" not in output
    assert "engine imports no Qt KEPT" in output, output


def _imported_names(tree: ast.AST) -> list[tuple[int, str]]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append((node.lineno, node.module))
            # "from matplotlib.backends import backend_qtagg"
            names.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, (ast.Name, ast.Attribute))
            and getattr(node.func, "id", getattr(node.func, "attr", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.append((node.lineno, node.args[0].value))
    return names


def test_no_engine_source_names_a_qt_module():
    offences = []
    for path in sorted(ENGINE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, name in _imported_names(tree):
            if _is_qt(name):
                offences.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    assert not offences, "the engine must not import Qt:\n" + "\n".join(offences)


_IMPORT_EVERYTHING = r"""
import importlib, json, pkgutil, sys
import engine
names = ["engine"] + [m.name for m in pkgutil.walk_packages(engine.__path__, "engine.")]
failed = {}
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:  # reported, so a broken module cannot hide a Qt import
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"imported": names, "failed": failed, "modules": sorted(sys.modules)}))
"""


def test_importing_every_engine_module_loads_no_qt():
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "QT_API")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_EVERYTHING],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not report["failed"], f"engine modules failed to import: {report['failed']}"
    # The walk found the real package, not an empty one.
    assert {"engine.models", "engine.explain", "engine.render", "engine.cli"} <= set(report["imported"])
    loaded_qt = [name for name in report["modules"] if _is_qt(name)]
    assert not loaded_qt, f"importing the engine loaded Qt modules: {loaded_qt}"
