"""How long the instant preview takes: from an image's predictions to its Grad-CAM and to its
Integrated Gradients preview, through the window's real preview lane (``EngineWorker``).

    .venv/bin/python -m bench.ig_preview [--weights none] [--repeats 3]

Untrained ResNet-50 by default (same compute as the ImageNet weights). The model is loaded
and warmed up exactly as the window does it, so the numbers are "model warm". The window's
draw hand-off is answered at once: this measures the engine, not the drawing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="none")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", default="32,16")
    parser.add_argument("--classes", default="1,3")
    args = parser.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import skimage.data
    from PySide6.QtCore import QCoreApplication

    from gui.engine_requests import ModelRequest, PredictRequest, PreviewJob
    from gui.engine_worker import EngineWorker

    app = QCoreApplication.instance() or QCoreApplication([])  # noqa: F841 - signals need one
    worker = EngineWorker()
    landed: dict[str, float] = {}

    def ready(job_id, explanation):
        landed[explanation.method] = time.perf_counter()
        job = jobs[job_id]
        job.shown.set()  # as if drawn at once

    jobs: dict[int, PreviewJob] = {}
    worker.previewReady.connect(ready)
    worker.predicted.connect(lambda key, generation, top: landed.setdefault("predicted", time.perf_counter()))
    failed = []
    worker.modelFailed.connect(failed.append)
    worker.load_model(ModelRequest(weights=args.weights), 1)  # loads, then warms up
    if failed:
        raise SystemExit(f"the model did not load: {failed[0].message}")

    image = skimage.data.coffee()
    rows = []
    ids = iter(range(1, 1_000_000))
    for steps in [int(s) for s in args.steps.split(",")]:
        for classes in [int(c) for c in args.classes.split(",")]:
            gradcam_s, ig_s = [], []
            for _ in range(args.repeats):
                landed.clear()
                key = next(ids)
                worker.enqueue_prediction(PredictRequest(key, image))
                worker.serve_predictions()
                job = PreviewJob(next(ids), key, image, classes, generation=1,
                                 ig={"steps": steps, "seed": 0, "baseline": "black"})
                jobs[job.job_id] = job
                worker.enqueue_preview(job)
                worker.serve_predictions()
                gradcam_s.append(landed["gradcam"] - landed["predicted"])
                ig_s.append(landed["ig"] - landed["predicted"])
            row = {"steps": steps, "classes": classes,
                   "gradcam_s": round(statistics.median(gradcam_s), 2),
                   "ig_s": round(statistics.median(ig_s), 2),
                   "ig_per_class_s": round((statistics.median(ig_s) - statistics.median(gradcam_s)) / classes, 2)}
            rows.append(row)
            print(f"steps {steps:3d}  classes {classes}  Grad-CAM {row['gradcam_s']:6.2f} s  "
                  f"IG {row['ig_s']:6.2f} s  ({row['ig_per_class_s']:.2f} s per class)", flush=True)
    print(json.dumps({"cpu_count": os.cpu_count(), "repeats": args.repeats, "rows": rows}))


if __name__ == "__main__":
    main()
