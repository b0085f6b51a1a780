"""Stability re-runs: run a randomised method again with other seeds, see what moves.

Which methods have randomness at all (checked, not assumed):
- LIME: the seed picks which segments each perturbed sample switches off (and quickshift's
  tie-breaking noise), so another seed gives other weights: re-run.
- Integrated Gradients: only its "noise" baseline is random (seeded); black, white and blur
  paths are fixed: re-run only with the noise baseline.
- SHAP (Partition): no seed; the masker's partition tree and the order of evaluations are
  fixed, and two runs give identical maps. Re-running it would only cost time.
- Grad-CAM: one gradient, no randomness.

A method's maps from the first run plus ``runs`` re-runs (seeds ``seed + 1 .. seed + runs``)
go to ``engine.metrics.stability`` class by class: a per-pixel spread map (standard
deviation across runs) and a score in [0, 1] (mean pairwise rank correlation).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.jobs import CancelToken, Explanation, ProgressFn, no_progress

# Said in the window beside the setting, so nobody expects a SHAP spread map.
WHAT_VARIES = ("Re-runs LIME with other seeds (its sampling, and quickshift segments, change), "
               "and Integrated Gradients when its baseline is noise. SHAP (Partition) and "
               "Grad-CAM have no randomness: a re-run gives the same map, so they are not re-run.")


def varies_with_seed(method: str, params: dict | None = None) -> bool:
    """True when another seed can change the method's map (see the module text)."""
    if method == "lime":
        return True
    if method == "ig":
        return (params or {}).get("baseline", "black") == "noise"
    return False


def rerun_stability(explanation: Explanation, classifier, params, runs: int,
                    progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> dict:
    """Re-run ``explanation``'s method ``runs`` times with other seeds; its spread and score.

    ``params`` is the method's parameter object (``LimeParams``, ``IntegratedGradientsParams``)
    as the first run used it. Returns plain data, one entry per explained class (same order
    as ``explanation.classes``): ``spread`` (K, H, W) float32, ``score`` list of K floats,
    ``runs`` (maps compared, the first run included), ``seeds``, ``classes`` and
    ``model_evaluations``. Cancelling raises ``Cancelled`` within one model batch.
    """
    from engine import explain
    from engine.metrics import stability

    if runs < 1:
        raise ValueError("stability needs at least one re-run")
    targets = list(explanation.classes)
    base_seed = int(getattr(params, "seed", 0))
    seeds = [base_seed + i for i in range(1, runs + 1)]
    maps = [np.asarray(explanation.maps, np.float32)]
    evaluations, done = 0, 0
    for seed in seeds:
        offset = done

        def step(n: int, total: int, stage: str, offset=offset) -> None:
            progress(offset + n, offset + total, f"Stability re-run {len(maps)} of {runs}")

        # A method without a seed runs as it is: its spread is 0 (see the module text).
        seeded = replace(params, seed=seed) if hasattr(params, "seed") else params
        result = explain.run(explanation.method, explanation.image, classifier, targets,
                             seeded, progress=step, cancel=cancel)
        maps.append(np.asarray(result.maps, np.float32))
        used = int(result.timings.get("model_evaluations", 0))
        evaluations += used
        done += used
    stacked = np.stack(maps)  # (R, K, H, W)
    spreads, scores = [], []
    for k in range(len(targets)):
        spread, score = stability(stacked[:, k])
        spreads.append(spread)
        scores.append(score)
    return {"method": explanation.method, "classes": [int(t) for t in targets],
            "runs": len(maps), "seeds": [base_seed, *seeds], "score": scores,
            "spread": np.stack(spreads).astype(np.float32), "model_evaluations": evaluations}


def json_summary(result: dict) -> dict:
    """The JSON part of a ``rerun_stability`` result: all but the spread maps."""
    return {k: v for k, v in result.items() if not isinstance(v, np.ndarray)}
