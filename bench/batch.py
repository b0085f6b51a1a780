"""Batch throughput side by side, in one run: back-to-back ``explain`` calls in one warm
process, the bare pipeline, ``batch`` in this process, and ``batch --ray auto --workers 2``.

    python bench/batch.py [--images 16] [--method gradcam] [--model resnet50|conv] [--png]

All three write the same files (``--png``: the class figures too; without it ``explain``
writes none and batch writes JSON + NPZ). Images per second are counted between the first
and the last finished image, so model loading and Ray's start-up are left out (and printed).
On a shared machine run it as one command, so the three see the same load.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def photos(folder: Path, count: int, size: int) -> list[Path]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / ("a", "b")[i % 2] / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        small = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC).save(path)
        paths.append(path)
    return paths


def rate(stamps: list[float]) -> float:
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")


def main() -> None:
    from engine.runtime import prepare_environment

    prepare_environment()
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--method", default="gradcam")
    parser.add_argument("--model", choices=["resnet50", "conv"], default="resnet50")
    parser.add_argument("--png", action="store_true")
    options = parser.parse_args()

    from engine.batch import BatchRun, run_batch
    from engine.batch_cli import batch_settings
    from engine.cli import build_parser, explain_images, lime_params, shap_params
    from engine.explain.gradcam import GradCamParams
    from engine.explain.integrated_gradients import IntegratedGradientsParams
    from engine.models import load_classifier

    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    if options.model == "conv":
        from known_models import save_conv_model

        model_args = ["--model", str(save_conv_model(work))]
    else:
        model_args = ["--weights", "none"]
    folder = work / "photos"
    paths = photos(folder, options.images, 160)
    common = [*model_args, "--method", options.method, "--classes", "1"]
    parser_ = build_parser()

    started = time.perf_counter()
    args = parser_.parse_args(["batch", str(folder), "--out", str(work / "x"), *common])
    settings = batch_settings(args)
    classifier = load_classifier(settings.model)
    load_s = time.perf_counter() - started

    # 1. explain, one image a call, in this (warm) process: what a script looping over
    #    `explain` in one process would get. The first call warms up and is not counted.
    stamps = []
    for i, path in enumerate([paths[0], *paths]):
        extra = ["--out", str(work / "explain")] if options.png else []
        explain_args = parser_.parse_args(["explain", str(path), *common, "--recompute", "--json", *extra])
        methods = [options.method]
        params = {"shap": shap_params(explain_args), "lime": lime_params(explain_args),
                  "gradcam": GradCamParams(layer=explain_args.layer),
                  "ig": IntegratedGradientsParams(steps=explain_args.ig_steps, baseline=explain_args.baseline,
                                                  seed=explain_args.seed)}
        sys.stdout, real = open("/dev/null", "w"), sys.stdout  # the JSON summaries
        try:
            explain_images(explain_args, methods, params, classifier)
        finally:
            sys.stdout.close()
            sys.stdout = real
        stamps.append(time.perf_counter())
    explain_rate = rate(stamps)

    # 2. The pipeline alone, image after image (read, fit, explain; no store, no files): the
    #    floor of what any way of running it can reach.
    from engine.images import load_image
    from engine.pipeline import ExplainRequest, run as run_pipeline

    stamps = []
    for path in [paths[0], *paths]:
        request = ExplainRequest(methods=settings.methods, image=load_image(path), params=settings.params,
                                 classes=settings.classes, seed=settings.seed)
        run_pipeline(request, classifier)
        stamps.append(time.perf_counter())
    bare_rate = rate(stamps)

    def timed_batch(out: Path, **spread) -> tuple[float, float]:
        stamps = []
        first = time.perf_counter()
        run = BatchRun(folder, out, settings if not options.png else _with_png(settings), **spread,
                       on_outcome=lambda outcome, workers: stamps.append(time.perf_counter()))
        run_batch(run, lambda: classifier, out=open("/dev/null", "w"))
        return rate(stamps), stamps[0] - first

    batch_rate, _ = timed_batch(work / "batch")
    ray_rate, ray_start = timed_batch(work / "ray", ray="auto", workers=2)

    print(f"{options.images} images, {options.method}, model {options.model}, files: "
          f"{'JSON + NPZ + PNG' if options.png else 'batch JSON + NPZ, explain none'}")
    print(f"model load {load_s:.1f} s; Ray start-up to the first image {ray_start:.1f} s")
    print(f"explain calls (one warm process)  {explain_rate:6.2f} images/s  "
          "(each call: store opened, model fingerprinted, result stored)")
    print(f"pipeline.run alone, no files      {bare_rate:6.2f} images/s")
    print(f"batch, this process               {batch_rate:6.2f} images/s  "
          f"({batch_rate / explain_rate:.2f} x explain, {batch_rate / bare_rate:.2f} x pipeline alone)")
    print(f"batch, Ray, 2 actors              {ray_rate:6.2f} images/s  "
          f"({ray_rate / batch_rate:.2f} x local batch)")


def _with_png(settings):
    from dataclasses import replace

    return replace(settings, png=True)


if __name__ == "__main__":
    main()
