"""Writes explanations to disk: PNG figures, NPZ maps (no pickles), JSON summaries.

The command line and the window's File > Export both use these, so files look the same.
Writes go through a temporary file and an atomic rename: an interrupted export never leaves
a half-written file in place of a good one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine import strict_json
from engine.jobs import Explanation, Prediction
from engine.outputs import ResultSet, class_png_name
from engine.render import LimeView, class_curves, class_scores, save_class_png


def summary(explanation: Explanation, image_path: str, predictions: list[Prediction],
            faithfulness: dict | None = None, stability: dict | None = None,
            sanity: dict | None = None) -> dict:
    """The JSON summary; ``faithfulness`` (engine.metrics.faithfulness) adds ``metrics``,
    ``sanity`` (engine.sanity.sanity_check) adds ``sanity`` (its maps go to the NPZ).

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
    if sanity is not None:
        data["sanity"] = {k: v for k, v in sanity.items() if not isinstance(v, np.ndarray)}
    return data


def add_json(files: ResultSet, path: Path, data: dict) -> Path:
    """Strict JSON (no NaN/Infinity) as one part of a result set."""
    return files.add(path, lambda f: f.write(strict_json.dumps(data).encode()))


def npz_arrays(explanation: Explanation, faithfulness: dict | None = None,
               stability: dict | None = None, sanity: dict | None = None) -> dict[str, np.ndarray]:
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
    if sanity is not None:  # the maps of the randomised models (steps, K, H, W)
        arrays["sanity_maps"] = np.asarray(sanity["maps"], np.float32)
    return arrays


def explanation_paths(out_dir: Path, stem: str, explanation: Explanation, pngs: bool = True) -> list[Path]:
    """The files ``write_explanation`` writes: JSON, NPZ, then (``pngs``) one PNG per class.
    JSON and NPZ keep ``STEM.METHOD``: they hold every class, and scripts read them by that name."""
    out_dir = Path(out_dir)
    base = f"{stem}.{explanation.method}"
    names = list(explanation.class_names) + [""] * len(explanation.classes)
    return [out_dir / f"{base}.json", out_dir / f"{base}.npz",
            *(out_dir / class_png_name(stem, explanation.method, c, n)
              for c, n in zip(explanation.classes if pngs else (), names))]


def write_explanation(out_dir: Path, stem: str, explanation: Explanation, image_path: str,
                      predictions: list[Prediction], lime_view: LimeView | None = None,
                      faithfulness: dict | None = None, stability: dict | None = None,
                      sanity: dict | None = None, pngs: bool = True) -> list[Path]:
    """``STEM.METHOD.json``, ``STEM.METHOD.npz`` and (``pngs``) one ``STEM.METHOD.INDEX-NAME.png``
    per class (``engine.outputs.class_png_name``), renamed into place together once all are written (complete or absent)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = explanation_paths(out_dir, stem, explanation, pngs)
    scored = {explanation.method: faithfulness} if faithfulness else {}
    info = summary(explanation, image_path, predictions, faithfulness, stability, sanity)
    info["output_name"] = stem  # which input these files came from when stems collide
    arrays = npz_arrays(explanation, faithfulness, stability, sanity)
    with ResultSet(out_dir) as files:
        add_json(files, paths[0], info)
        files.add(paths[1], lambda f: np.savez_compressed(f, **arrays))
        for class_index, png in zip(explanation.classes, paths[2:]):
            # Scored: the AUCs and the small curve plot under the map, as in the window.
            files.add(png, lambda f, c=class_index: save_class_png(
                f, [explanation], c, lime_view, scores=class_scores(scored, c) or None,
                curves=class_curves(scored, c) or None))
        return files.commit()


EVALUATION_FILES = ("metrics.json", "confusion_matrix.png")


def write_evaluation(out_dir: Path, result) -> list[Path]:
    """``metrics.json`` and ``confusion_matrix.png`` of an ``engine.evaluate.EvaluationResult``:
    the command line's ``evaluate --out`` and the window's evaluation export both write these."""
    from engine.render import save_confusion_matrix

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / name for name in EVALUATION_FILES]
    with ResultSet(out_dir) as files:
        add_json(files, written[0], result.to_json())
        files.add(written[1], lambda f: save_confusion_matrix(f, result, format="png"))
        return files.commit()


def load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def atomic_write(path: Path, write) -> None:
    """``write(file)`` into a temporary file beside ``path``, then rename it into place."""
    with ResultSet(Path(path).parent) as files:
        files.add(path, write)
        files.commit()

