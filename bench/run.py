"""Side by side: the seed recipes against the engine, same model, same images, same settings.

    python -m bench.run            full: 3 photos, SHAP 500 evals, LIME 1000 samples
    python -m bench.run --quick    1 photo, SHAP 100 evals, LIME 200 samples
    python -m bench.run --model efficientnet-lite0    the light, trained network

Runs in one process, alternating seed and engine per image, after warming both up. Prints a
table and one JSON line. The default model is the untrained ResNet-50: compute cost is the
same as with the ImageNet weights. ``efficientnet-lite0`` is the trained network of the
tests (tests/real_model.py, built from the dev dependency's weights): its forward passes
are cheap, so the engine's own work around the model shows. Each engine run also reports
its forward-pass-only time: the same batches, timed through the model alone.
Set KERAS_BACKEND=jax to measure the JAX path (e.g. on a GPU).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from engine.runtime import prepare_environment

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", choices=["resnet50", "efficientnet-lite0"], default="resnet50")
    parser.add_argument("--images", type=int, help="how many photos (default 3, quick 1)")
    parser.add_argument("--methods", default="shap,lime")
    parser.add_argument("--throughput", action="store_true", help="also measure model images/s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runtime", choices=["auto", "keras", "openvino"], default="auto",
                        help="the engine's forward pass (default auto: OpenVINO on CPU, as the app)")
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                        help="bfloat16: the labelled fast choice (changes the maps slightly)")
    args = parser.parse_args(argv)
    prepare_environment()

    from skimage import data

    from engine import explain
    from engine.backend import backend_name, device_description, import_keras
    from engine.explain.lime_image import LimeParams
    from engine.explain.shap_partition import ShapParams
    from engine.images import fit_to_model
    from engine.models import Classifier, imagenet_class_names

    from bench import seed_recipes

    keras = import_keras()
    max_evals, samples = (100, 200) if args.quick else (500, 1000)
    count = args.images or (1 if args.quick else 3)
    methods = [m for m in args.methods.split(",") if m]
    model, preprocess, name, untrained = _model(keras, args.model)
    classifier = Classifier(model, name, imagenet_class_names(), preprocess, untrained=untrained,
                            runtime=args.runtime, precision=args.precision)
    forward = _ForwardTimer(classifier)
    images = [fit_to_model(getattr(data, name)(), (224, 224)) for name in PHOTOS[:count]]
    print(f"{name}: backend {backend_name()} on {device_description()}, engine runtime {classifier.runtime} "
          f"({classifier.precision}); "
          f"{count} image(s); "
          f"SHAP {max_evals} evals, LIME {samples} samples", flush=True)

    _warm_up(model, classifier, images[0], seed_recipes, explain, ShapParams, LimeParams, preprocess)
    rows = {m: {"seed_s": [], "engine_s": [], "forward_s": [], "agreement": []} for m in methods}
    for i, image in enumerate(images):
        top4 = [p.index for p in classifier.top_k(classifier.predict(image)[0], 4)]
        for method in methods:
            order = ("seed", "engine") if i % 2 == 0 else ("engine", "seed")
            results = {}
            for side in order:
                forward.start()
                start = time.perf_counter()
                if method == "shap" and side == "seed":
                    results[side] = seed_recipes.seed_shap(model, image, 3, max_evals,
                                                           preprocess=preprocess)[0]
                elif method == "shap":
                    results[side] = explain.run("shap", image, classifier, top4[:3],
                                                ShapParams(max_evals=max_evals, batch_size=50)).maps
                elif side == "seed":
                    results[side] = seed_recipes.seed_lime(model, image, 4, samples, seed=args.seed,
                                                           preprocess=preprocess)
                else:
                    results[side] = explain.run("lime", image, classifier, top4, LimeParams(
                        num_samples=samples, num_features=100000, hide_color=0, seed=args.seed))
                rows[method][f"{side}_s"].append(time.perf_counter() - start)
                if side == "engine":
                    rows[method]["forward_s"].append(forward.replay(image))
            rows[method]["agreement"].append(_agreement(method, results, top4))
            print(f"  {PHOTOS[i]:<10} {method}: seed {rows[method]['seed_s'][-1]:6.1f} s  "
                  f"engine {rows[method]['engine_s'][-1]:6.1f} s  "
                  f"(forward passes alone {rows[method]['forward_s'][-1]:6.1f} s)  "
                  f"{rows[method]['agreement'][-1]}", flush=True)

    summary = {"model": name, "backend": backend_name(), "device": device_description(),
               "engine_runtime": classifier.runtime, "precision": classifier.precision, "images": count,
               "shap_max_evals": max_evals, "lime_samples": samples}
    print(f"\n{'method':<8}{'seed s':>10}{'engine s':>10}{'ratio':>8}{'forward s':>11}"
          f"{'engine/fwd':>12}  agreement")
    for method, row in rows.items():
        seed_s, engine_s = float(np.mean(row["seed_s"])), float(np.mean(row["engine_s"]))
        forward_s = float(np.mean(row["forward_s"]))
        worst = _worst(method, row["agreement"])
        print(f"{method:<8}{seed_s:>10.2f}{engine_s:>10.2f}{engine_s / seed_s:>8.2f}{forward_s:>11.2f}"
              f"{engine_s / forward_s:>12.2f}  {worst}")
        summary[method] = {"seed_s": seed_s, "engine_s": engine_s, "ratio": engine_s / seed_s,
                           "forward_only_s": forward_s, "engine_over_forward": engine_s / forward_s,
                           **worst}
    if args.throughput:
        summary["throughput"] = _throughput(model, classifier, seed_recipes, preprocess)
        print(f"\nmodel images/s: seed model.predict {summary['throughput']['seed_images_per_s']:.0f}, "
              f"engine {summary['throughput']['engine_images_per_s']:.0f}")
    print(json.dumps(summary))
    return 0


def _model(keras, which: str):
    """``(keras model, preprocessing, name, untrained)`` for ``--model``."""
    if which == "resnet50":
        return keras.applications.ResNet50(weights=None), "caffe", "ResNet-50", True
    import sys
    from pathlib import Path

    tests = Path(__file__).resolve().parents[1] / "tests"
    sys.path.insert(0, str(tests))
    import real_model  # noqa: E402  (the tests' converter; needs the dev dependencies)

    path = real_model.efficientnet_lite0_keras(Path.home() / ".cache" / "image-explainer-tests")
    model = keras.saving.load_model(path, compile=False)
    return model, real_model.PREPROCESS, "EfficientNet-Lite0", False


class _ForwardTimer:
    """Records the batch sizes of the engine's forward passes during a run, then times the
    same batches through the compiled forward pass alone: what the run would cost if the
    engine did nothing but call the model."""

    def __init__(self, classifier):
        self.classifier = classifier
        self.inner = classifier._forward
        self.sizes: list[int] = []
        classifier._forward = self._record

    def _record(self, x):
        self.sizes.append(len(x))
        return self.inner(x)

    def start(self) -> None:
        self.sizes = []

    def replay(self, image) -> float:
        sizes, self.sizes = self.sizes, []
        batches = {n: np.repeat(image[None], n, axis=0) for n in set(sizes)}
        start = time.perf_counter()
        for n in sizes:
            self.inner(batches[n])
        return time.perf_counter() - start


def _warm_up(model, classifier, image, seed_recipes, explain, ShapParams, LimeParams,
             preprocess="caffe"):
    """Compile both sides' model calls and shap's numba code before anything is timed."""
    seed_f = seed_recipes.predict_fn(model, preprocess)
    for n in (50, 10, 1, 2):
        seed_f(np.repeat(image[None], n, axis=0))
    classifier.warm_up()
    explain.run("shap", image, classifier, [0], ShapParams(max_evals=20, batch_size=10))
    explain.run("lime", image, classifier, [0], LimeParams(num_samples=20, batch_size=10))
    seed_recipes.seed_shap(model, image, 1, 20, 10, preprocess=preprocess)


def _agreement(method, results, top4) -> dict:
    if method == "shap":
        seed, ours = results["seed"], results["engine"]
        corr = [float(np.corrcoef(a.ravel(), b.ravel())[0, 1]) for a, b in zip(seed, ours)]
        return {"min_correlation": round(min(corr), 6), "max_abs_diff": float(np.abs(seed - ours).max())}
    seed, ours = results["seed"], results["engine"]
    same_segments = bool(np.array_equal(seed.segments, ours.extras["segments"]))
    diffs = []
    for k, label in enumerate(ours.classes):
        weights = np.zeros(ours.extras["segment_weights"].shape[1])
        for seg_id, w in seed.local_exp.get(label, []):
            weights[seg_id] = w
        diffs.append(float(np.abs(weights - ours.extras["segment_weights"][k]).max()))
    return {"same_segments": same_segments, "same_labels": sorted(seed.top_labels) == sorted(top4),
            "max_weight_diff": max(diffs)}


def _worst(method, agreements) -> dict:
    if method == "shap":
        return {"min_correlation": min(a["min_correlation"] for a in agreements),
                "max_abs_diff": max(a["max_abs_diff"] for a in agreements)}
    return {"same_segments": all(a["same_segments"] for a in agreements),
            "same_labels": all(a["same_labels"] for a in agreements),
            "max_weight_diff": max(a["max_weight_diff"] for a in agreements)}


def _throughput(model, classifier, seed_recipes, preprocess="caffe", seconds: float = 5.0) -> dict:
    batch = np.random.default_rng(0).integers(0, 255, (256, 224, 224, 3), dtype=np.uint8)
    seed_f = seed_recipes.predict_fn(model, preprocess)

    def rate(fn, n):
        fn(batch[:n])
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            fn(batch[:n])
            done += n
        return done / (time.perf_counter() - start)

    return {"seed_images_per_s": rate(seed_f, 50), "engine_images_per_s": rate(classifier.predict, 256)}


if __name__ == "__main__":
    raise SystemExit(main())
