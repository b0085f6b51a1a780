"""How well a classifier does on a labelled folder: one sub-folder of images per class.

    photos/
      cat/   a.jpg b.png ...
      dog/   ...

Sub-folder names must be class names of the model (compared case-insensitively, with spaces,
underscores and hyphens the same). A sub-folder named like no class (a typo, or an "unsorted"
folder) is skipped with one note naming it, and the rest is evaluated; only a folder where no
sub-folder matches is an error. Images are predicted in batches, with progress and cancel;
files that cannot be read are skipped and listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import EngineError, ImageError
from engine.jobs import CancelToken, ProgressCounter, ProgressFn, no_progress


@dataclass
class EvaluationResult:
    labels: list[str]  # the model's class names, in class-index order
    accuracy: float
    confusion_matrix: np.ndarray  # int64 (L, L): rows = true class, columns = predicted
    per_class: dict[str, dict]  # label -> {precision, recall, support}; None where undefined
    misclassified: list[dict]  # {file, true, predicted, probability, true_probability}
    skipped: list[dict] = field(default_factory=list)  # {file, error}: images that could not be read
    folders: dict[str, str] = field(default_factory=dict)  # sub-folder name -> label
    skipped_folders: list[str] = field(default_factory=list)  # sub-folders named like no class
    files: list[str] = field(default_factory=list)  # every evaluated image, in order
    true_classes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    predicted_classes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # of the prediction
    model: str = ""
    head: str = ""  # engine.heads.HeadKind value of the model evaluated
    folder: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return int(self.confusion_matrix.sum())

    def to_json(self) -> dict:
        """The metrics.json schema (stable: scripts read it)."""
        return {
            "folder": self.folder,
            "model": self.model,
            "head": self.head,
            "labels": list(self.labels),
            "total": self.total,
            "accuracy": self.accuracy,
            "confusion_matrix": self.confusion_matrix.astype(int).tolist(),
            "per_class": self.per_class,
            "misclassified": self.misclassified,
            "skipped": self.skipped,
            "folders": self.folders,
            "skipped_folders": self.skipped_folders,
            "notes": self.notes,
        }


def normalise_label(name: str) -> str:
    """Case, spaces, underscores and hyphens do not matter when matching folders to labels."""
    return re.sub(r"[\s_\-]+", " ", name).strip().casefold()


def match_folders(folder: str | Path, labels: list[str]) -> tuple[dict[Path, int], list[str]]:
    """Each class sub-folder of ``folder`` -> class index, and the names of the sub-folders
    that match no class (skipped). No sub-folder at all, or none that matches, is an EngineError."""
    root = Path(folder)
    name = root.name or str(root)
    if root.exists() and not root.is_dir():
        raise EngineError(f"{name}: not a folder; evaluate needs a folder of class sub-folders")
    if not root.is_dir():
        raise EngineError(f"{name}: folder not found")
    lookup: dict[str, int] = {}
    for index, label in enumerate(labels):
        lookup.setdefault(normalise_label(label), index)
    subfolders = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                        key=lambda p: p.name.lower())
    if not subfolders:
        raise EngineError(f"{name}: no class sub-folders; put each class's images in a folder "
                          f"named after the class ({_label_list(labels)})")
    matched, unknown = {}, []
    for sub in subfolders:
        index = lookup.get(normalise_label(sub.name))
        if index is None:
            unknown.append(sub.name)
        else:
            matched[sub] = index
    if not matched:
        raise EngineError(f"{name}: no sub-folder matches a class label ({_name_list(unknown)}); "
                          f"valid labels: {_label_list(labels)}")
    return matched, unknown


def unknown_folders_note(unknown: list[str], labels: list[str]) -> str:
    """One line for every sub-folder that matched no class: how many, and the first few."""
    noun = "sub-folder matches" if len(unknown) == 1 else "sub-folders match"
    return (f"{len(unknown)} {noun} no class label and {'was' if len(unknown) == 1 else 'were'} skipped: "
            f"{_name_list(unknown)} (valid labels: {_label_list(labels, 6)})")


def evaluate_folder(folder: str | Path, classifier, batch_size: int = 32,
                    progress: ProgressFn | None = None,
                    cancel: CancelToken | None = None) -> EvaluationResult:
    from engine.images import fit_to_model, list_images, load_image

    progress = progress or no_progress
    cancel = cancel or CancelToken()
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    root = Path(folder)
    labels = list(classifier.class_names)
    matched, unknown = match_folders(root, labels)
    items = [(path, index) for sub, index in matched.items() for path in list_images(sub, recursive=True)]
    notes = [unknown_folders_note(unknown, labels)] if unknown else []
    head = getattr(getattr(classifier, "head_kind", None), "value", "")
    if head == "multi-label":  # independent probabilities; a folder names one class
        notes.append("multi-label model: each image counts as predicted for its most probable class")
    loose = [p for p in list_images(root) if p.is_file()]
    if loose:
        notes.append(f"{len(loose)} image(s) directly in {root.name or root} were ignored: "
                     "only class sub-folders are evaluated")
    if not items:
        also = f" ({notes[0]})" if unknown else ""
        raise EngineError(f"{root.name or root}: the class sub-folders hold no images{also}")

    counter = ProgressCounter(progress, len(items), "evaluating")
    files, true, predicted, confidence, true_confidence, skipped = [], [], [], [], [], []
    for start in range(0, len(items), batch_size):
        cancel.raise_if_cancelled()
        batch, batch_items = [], []
        for path, index in items[start : start + batch_size]:
            try:
                batch.append(fit_to_model(load_image(path), classifier.input_size))
                batch_items.append((path, index))
            except ImageError as exc:
                # The message starts with the file name; say which class folder it sits in too.
                relative = path.relative_to(root).as_posix()
                message = str(exc)
                if message.startswith(path.name):
                    message = relative + message[len(path.name):]
                skipped.append({"file": str(path), "error": message})
        if batch:
            probabilities = classifier.predict(np.stack(batch))
            best = probabilities.argmax(axis=1)
            for (path, index), row, guess in zip(batch_items, probabilities, best):
                files.append(str(path))
                true.append(index)
                predicted.append(int(guess))
                confidence.append(float(row[guess]))
                true_confidence.append(float(row[index]))
        counter.add(len(items[start : start + batch_size]))
    counter.finish()
    if not files:
        raise EngineError(f"{root.name or root}: none of the {len(items)} images could be read "
                          f"({skipped[0]['error']})")

    true_classes = np.asarray(true, np.int64)
    predicted_classes = np.asarray(predicted, np.int64)
    matrix = confusion_matrix(true_classes, predicted_classes, len(labels))
    misclassified = [
        {"file": f, "true": labels[t], "predicted": labels[p], "probability": c, "true_probability": tc}
        for f, t, p, c, tc in zip(files, true, predicted, confidence, true_confidence) if t != p
    ]
    return EvaluationResult(
        labels=labels,
        accuracy=float(np.trace(matrix) / matrix.sum()),
        confusion_matrix=matrix,
        per_class=per_class_metrics(matrix, labels),
        misclassified=misclassified,
        skipped=skipped,
        folders={sub.name: labels[index] for sub, index in matched.items()},
        skipped_folders=unknown,
        files=files,
        true_classes=true_classes,
        predicted_classes=predicted_classes,
        probabilities=np.asarray(confidence, np.float32),
        model=getattr(classifier, "label", ""),
        head=head,
        folder=str(root),
        notes=notes,
    )


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (np.asarray(true, np.int64), np.asarray(predicted, np.int64)), 1)
    return matrix


def per_class_metrics(matrix: np.ndarray, labels: list[str]) -> dict[str, dict]:
    """Precision (of the predictions of a class, how many were right) and recall (of the
    images of a class, how many were found); None where there is nothing to divide by."""
    correct = np.diag(matrix)
    predicted = matrix.sum(axis=0)
    support = matrix.sum(axis=1)
    return {
        label: {
            "precision": float(correct[i] / predicted[i]) if predicted[i] else None,
            "recall": float(correct[i] / support[i]) if support[i] else None,
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }


def _name_list(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names) - limit} more)" if len(names) > limit else "")


def _label_list(labels: list[str], limit: int = 12) -> str:
    shown = ", ".join(labels[:limit])
    return shown + (f", … ({len(labels) - limit} more)" if len(labels) > limit else "")
