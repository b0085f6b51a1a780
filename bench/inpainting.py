"""SHAP's masked images: shap's own inpaint_telea masker (cv2.inpaint) against the engine's.

    python -m bench.inpainting [--images N] [--evals 500]

The masks are the ones SHAP's Partition explainer really asks for at these settings (a
cheap fixed model stands in for ResNet-50: only the masks matter here). Each side fills the
same masks, one after another on one core, then a batch at a time on every core (as the
engine does). Checks the filled images are identical, byte for byte.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")


def partition_masks(image: np.ndarray, max_evals: int) -> np.ndarray:
    """The keep-masks (N, H*W*C) Partition asks for on ``image``."""
    import shap

    from engine.explain.shap_partition import _deferred_masker

    weights = np.random.default_rng(1).normal(size=(image.size, 4)).astype(np.float32) / 1000
    asked = []

    def model(masks):
        masks = np.asarray(masks, bool)
        asked.append(masks)
        return np.tanh(np.where(masks, image.ravel()[None], 0).astype(np.float32) @ weights)

    explainer = shap.explainers.Partition(model, _deferred_masker("inpaint_telea", image.shape))
    explainer(image[None], max_evals=max_evals, batch_size=50, outputs=np.arange(4), silent=True)
    return np.concatenate(asked)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--evals", type=int, default=500)
    args = parser.parse_args(argv)

    import shap
    from skimage import data

    from engine.explain import telea
    from engine.explain.parallel import pool, worker_count
    from engine.images import fit_to_model

    telea.warm_up()
    rows = []
    for name in PHOTOS[:args.images]:
        image = fit_to_model(getattr(data, name)(), (224, 224))
        masks = partition_masks(image, args.evals)
        masker = shap.maskers.Image("inpaint_telea", image.shape)
        flat = image.ravel()

        def shaps(keep):
            return masker(keep, flat)[0].reshape(-1)

        def ours(keep):
            filled = telea.shap_masked_image(image, keep)
            return shaps(keep) if filled is None else filled

        timing = {}
        for side, fill in (("shap", shaps), ("engine", ours)):
            began = time.perf_counter()
            filled = [fill(keep) for keep in masks]
            timing[side + "_one_core_s"] = time.perf_counter() - began
            began = time.perf_counter()
            for start in range(0, len(masks), 50):
                list(pool().map(fill, masks[start:start + 50]))
            timing[side + "_all_cores_s"] = time.perf_counter() - began
            timing[side + "_images"] = filled
        identical = sum(np.array_equal(a, b) for a, b in zip(timing.pop("shap_images"), timing.pop("engine_images")))
        rows.append({"image": name, "masks": len(masks), "identical": identical, **timing})
        print(f"{name:10s} {len(masks)} masks, {identical} identical | one core: shap "
              f"{timing['shap_one_core_s']:.2f} s, engine {timing['engine_one_core_s']:.2f} s "
              f"({timing['engine_one_core_s'] / timing['shap_one_core_s']:.2f}) | {worker_count()} threads: shap "
              f"{timing['shap_all_cores_s']:.2f} s, engine {timing['engine_all_cores_s']:.2f} s", flush=True)
    print(json.dumps({"threads": worker_count(), "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
