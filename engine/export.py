"""Writes explanations to disk: PNG figures, NPZ maps (no pickles), JSON summaries.

The command line and the window's File > Export both use these, so files look the same.
Writes go through a temporary file and an atomic rename: an interrupted export never leaves
a half-written file in place of a good one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from engine.jobs import Explanation, Prediction
from engine.render import LimeView, class_curves, class_scores, save_class_png


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()  # read once at import: os.umask can only be read by setting it


def summary(explanation: Explanation, image_path: str, predictions: list[Prediction],
            faithfulness: dict | None = None, stability: dict | None = None) -> dict:
    """The JSON summary; ``faithfulness`` (engine.metrics.faithfulness) adds ``metrics``.

    ``stability`` (engine.stability.rerun_stability) adds ``stability``: ``runs`` (maps
    compared, the first run included), ``seeds``, ``classes`` and ``score`` (one number in
    [0, 1] per class, same order as ``classes``: mean pairwise rank correlation of the runs'
    maps). The spread maps go to the NPZ as ``stability_spread`` (K, H, W).
    """
    data = {
        "image": str(image_path),
        "model": explanation.model,
        "untrained": explanation.untrained,
        "head": explanation.head,
        "method": explanation.method,
        "params": explanation.params,
        "predictions": [p.to_json() for p in predictions],
        "classes": list(explanation.classes),
        "class_names": list(explanation.class_names),
        "timings": explanation.timings,
        "versions": explanation.versions,
    }
    if faithfulness is not None:
        data["metrics"] = {k: v for k, v in faithfulness.items() if not isinstance(v, np.ndarray)}
    if stability is not None:
        data["stability"] = {k: v for k, v in stability.items() if not isinstance(v, np.ndarray)}
    return data


def write_json(path: Path, data: dict) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(data, indent=2, default=_jsonable).encode()))


def write_npz(path: Path, explanation: Explanation, faithfulness: dict | None = None,
              stability: dict | None = None) -> None:
    arrays = {
        "maps": explanation.maps.astype(np.float32),
        "classes": np.asarray(explanation.classes, np.int64),
        "image": explanation.image.astype(np.uint8),
    }
    arrays.update({key: np.asarray(value) for key, value in explanation.extras.items()})
    # Faithfulness curves (fractions removed/inserted, probabilities) beside the maps.
    arrays.update({f"metrics_{key}": value for key, value in (faithfulness or {}).items()
                   if isinstance(value, np.ndarray)})
    if stability is not None:  # per-pixel spread of the re-runs' maps (K, H, W)
        arrays["stability_spread"] = np.asarray(stability["spread"], np.float32)
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def write_explanation(out_dir: Path, stem: str, explanation: Explanation, image_path: str,
                      predictions: list[Prediction], lime_view: LimeView | None = None,
                      faithfulness: dict | None = None, stability: dict | None = None) -> list[Path]:
    """``STEM.METHOD.json``, ``STEM.METHOD.npz`` and one ``STEM.METHOD.CLASS.png`` per class."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = f"{stem}.{explanation.method}"
    written = [out_dir / f"{base}.json", out_dir / f"{base}.npz"]
    write_json(written[0], summary(explanation, image_path, predictions, faithfulness, stability))
    write_npz(written[1], explanation, faithfulness, stability)
    scored = {explanation.method: faithfulness} if faithfulness else {}
    for class_index in explanation.classes:
        png = out_dir / f"{base}.{class_index}.png"
        # Scored: the AUCs and the small curve plot under the map, as in the window.
        atomic_write(png, lambda f, c=class_index: save_class_png(
            f, [explanation], c, lime_view, scores=class_scores(scored, c) or None,
            curves=class_curves(scored, c) or None))
        written.append(png)
    return written


EVALUATION_FILES = ("metrics.json", "confusion_matrix.png")


def write_evaluation(out_dir: Path, result) -> list[Path]:
    """``metrics.json`` and ``confusion_matrix.png`` of an ``engine.evaluate.EvaluationResult``:
    the command line's ``evaluate --out`` and the window's evaluation export both write these."""
    from engine.render import save_confusion_matrix

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / name for name in EVALUATION_FILES]
    write_json(written[0], result.to_json())
    atomic_write(written[1], lambda f: save_confusion_matrix(f, result, format="png"))
    return written


def load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def atomic_write(path: Path, write) -> None:
    """``write(file)`` into a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".part",
                                         delete=False)
    try:
        with handle:
            write(handle)
        # Temporary files are private (0600); the result gets the usual permissions.
        os.chmod(handle.name, 0o666 & ~_UMASK)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
