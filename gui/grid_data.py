"""What the images × classes grid shows, gathered from the window's explained images.

Rows are the images that have a result of the chosen method; columns are the classes they
explained, those most images explained first, so nearly every cell has a map. Images explain
their own top classes, so a cell can still have none: it is NaN there (drawn blank, and
marked "not explained"), never a zero that would read as "no evidence". Plain numpy; drawing is ``engine.render.draw_grid``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.evaluate import normalise_label

METHOD_ORDER = ("shap", "shap-gradient", "lime", "ig", "gradcam")
METHOD_NAMES = {"shap": "SHAP (Partition)", "shap-gradient": "SHAP (background set)", "lime": "LIME",
                "ig": "Integrated Gradients", "gradcam": "Grad-CAM"}
VALUE_LABELS = {"shap": "SHAP value", "shap-gradient": "SHAP value", "lime": "LIME weight",
                "ig": "IG attribution", "gradcam": "Grad-CAM"}
DEFAULT_MAX_COLUMNS = 6


@dataclass
class GridData:
    method: str
    keys: list[int]  # image entry keys, one per row
    images: np.ndarray  # uint8 (N, H, W, 3): the model inputs
    maps: np.ndarray  # float32 (N, C, H, W), NaN where the image did not explain the class
    classes: list[int]  # model class index of each column
    class_names: list[str]
    row_labels: list[str]
    true_columns: list[int | None]
    predicted_columns: list[int | None]
    value_label: str = "SHAP value"
    missing: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))  # (N, C)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.keys), len(self.classes)

    def drawing_args(self) -> tuple:
        """The positional arguments of ``engine.render.draw_grid`` / ``save_grid``."""
        return (self.images, self.maps, self.class_names, self.row_labels, self.true_columns,
                self.predicted_columns)


def available_methods(entries) -> list[str]:
    """Methods with at least one result among the entries, in a fixed order."""
    found = {method for entry in entries for method in entry.results}
    return [m for m in METHOD_ORDER if m in found] + sorted(found - set(METHOD_ORDER))


def true_label(entry, known: dict[str, str], class_names: list[str]) -> str | None:
    """The entry's true class name: from an evaluation (``known``: resolved path -> label), or
    from its folder when that is named like a class (photos/cat/x.jpg), as ``explain --grid``."""
    if entry.path is None:
        return None
    path = Path(entry.path).resolve()
    if str(path) in known:
        return known[str(path)]
    by_name = {normalise_label(name): name for name in class_names}
    return by_name.get(normalise_label(path.parent.name))


def explained_columns(results, max_columns: int = DEFAULT_MAX_COLUMNS) -> tuple[list[int], dict[int, str]]:
    """The grid's columns: the classes the ``results`` explained, those explained by the most
    images first, then by their mean probability over those images (then by class index, so
    the order is fixed); at most ``max_columns``. Also every explained class's name."""
    probabilities: dict[int, list[float]] = {}
    names: dict[int, str] = {}
    for result in results:
        for k, class_index in enumerate(result.classes):
            probabilities.setdefault(class_index, []).append(float(result.probabilities[k]))
            names[class_index] = result.class_names[k]
    order = sorted(probabilities, key=lambda c: (-len(probabilities[c]), -float(np.mean(probabilities[c])), c))
    return order[: max(1, max_columns)], names


def build_grid(entries, method: str, max_columns: int = DEFAULT_MAX_COLUMNS,
               known_truth: dict[str, str] | None = None,
               class_names: list[str] | None = None) -> GridData | None:
    """The grid of ``method`` over ``entries`` (list order), or None when none has that result.

    Rows must share one model input, so only results of the first row's model are used
    (the model can change during a session). ``class_names`` (all the model's classes, when
    known) lets a row name a true class that is not among the columns.
    """
    results = [(entry, entry.results[method]) for entry in entries if method in entry.results]
    if not results:
        return None
    first = results[0][1]
    results = [(e, r) for e, r in results if r.model == first.model and r.image.shape == first.image.shape]

    columns, names = explained_columns([result for _, result in results], max_columns)

    n, c = len(results), len(columns)
    height, width = first.image.shape[:2]
    maps = np.full((n, c, height, width), np.nan, np.float32)
    for row, (_, result) in enumerate(results):
        for col, class_index in enumerate(columns):
            if class_index in result.classes:
                maps[row, col] = result.maps[result.index_of(class_index)]

    all_names = list(class_names or []) + [names[i] for i in sorted(names)]
    column_by_name = {normalise_label(names[i]): col for col, i in enumerate(columns)}
    row_labels, true_columns, predicted_columns = [], [], []
    for entry, _ in results:
        truth = true_label(entry, known_truth or {}, all_names)
        top = entry.predictions[0] if entry.predictions else None
        lines = [entry.name]
        if truth is not None:
            lines.append(f"true: {truth}")
        if top is not None:
            lines.append(f"pred: {top.name} ({top.probability:.0%})")
        row_labels.append("\n".join(lines))
        true_columns.append(column_by_name.get(normalise_label(truth)) if truth is not None else None)
        predicted_columns.append(columns.index(top.index) if top is not None and top.index in columns else None)
    return GridData(
        method=method,
        keys=[entry.key for entry, _ in results],
        images=np.stack([result.image for _, result in results]).astype(np.uint8),
        maps=maps,
        classes=columns,
        class_names=[names[i] for i in columns],
        row_labels=row_labels,
        true_columns=true_columns,
        predicted_columns=predicted_columns,
        value_label=VALUE_LABELS.get(method, "attribution"),
        missing=np.isnan(maps).all(axis=(2, 3)),
    )
