"""Class names for a model: read strictly from a labels file, or found beside the model file.

Shared by every model format (Keras, SavedModel, ONNX), so none of them imports another.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.errors import ModelError, first_line
from engine.safe_files import require_regular_file


def read_labels(path: str | Path, expected: int | None = None) -> list[str]:
    """Class names from a text file (one a line) or JSON (list, or dict of index -> name).

    Strict, because a wrong name silently mislabels every result: a blank line, a duplicate
    name, a JSON key that is not exactly "0" … "N-1", or a name that is not a string
    is an error naming the file (and the line or key).
    """
    path = require_regular_file(path, "labels file", ModelError)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ModelError(f"{path.name}: labels file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path.name}: cannot read labels: {first_line(exc)}") from exc
    if path.suffix.lower() == ".json":
        names = _json_labels(path.name, text)
    else:
        names = _text_labels(path.name, text)
    if not names:
        raise ModelError(f"{path.name}: the labels file holds no names")
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            raise ModelError(f"{path.name}: duplicate label {name!r} (classes {seen[name]} and {index})")
        seen[name] = index
    if expected is not None and len(names) != expected:
        raise ModelError(f"{path.name}: {len(names)} labels, but the model has {expected} classes")
    return names


def _text_labels(file_name: str, text: str) -> list[str]:
    lines = text.splitlines()
    while lines and not lines[-1].strip():  # trailing newlines are how files end, not a class
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise ModelError(f"{file_name}: line {number} is blank; each line names one class")
    return [line.strip() for line in lines]


def _json_labels(file_name: str, text: str) -> list[str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{file_name}: invalid JSON: {exc.msg} (line {exc.lineno})") from exc
    if isinstance(data, dict):
        wanted = [str(i) for i in range(len(data))]
        odd = sorted(set(data) - set(wanted))
        if odd:  # "01", "-1", "x" or a gap: only canonical indices 0 … N-1 say which is which
            raise ModelError(f"{file_name}: JSON label keys must be exactly \"0\" … \"{len(data) - 1}\", "
                             f"without gaps (found {odd[0]!r})")
        data = [data[k] for k in wanted]
    if not isinstance(data, list):
        raise ModelError(f"{file_name}: JSON labels must be a list of names or a dict of index -> name")
    for index, name in enumerate(data):
        if not isinstance(name, str):
            raise ModelError(f"{file_name}: label {index} is {json.dumps(name)}, not a name in quotes")
        if not name.strip():
            raise ModelError(f"{file_name}: label {index} is blank")
    return [name.strip() for name in data]


def labels_beside(model_path: Path) -> Path | None:
    """labels.txt / labels.json next to the model (or inside a SavedModel folder)."""
    names = ("labels.txt", "labels.json", f"{model_path.stem}.labels.txt",
             f"{model_path.stem}.labels.json")
    places = [model_path.with_name(n) for n in names]
    if model_path.is_dir():
        places = [model_path / n for n in ("labels.txt", "labels.json")] + \
                 [model_path / "assets" / n for n in ("labels.txt", "labels.json")] + places
    return next((p for p in places if p.is_file()), None)
