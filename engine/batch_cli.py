"""The ``batch`` sub-command's options and its run: explain options plus how to spread the work."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_batch_parser(commands, common: argparse.ArgumentParser) -> None:
    from engine.cli_common import add_explain_options, positive_int

    batch = commands.add_parser("batch", parents=[common],
                                help="explain every image of a folder tree, resumably, with a report")
    batch.add_argument("folder", metavar="FOLDER", help="images, in sub-folders named after their class "
                                                         "if you want misclassified images marked")
    batch.add_argument("--out", type=Path, required=True, metavar="DIR",
                       help="results, index.sqlite, summary.csv and report.html (run again to resume)")
    add_explain_options(batch)
    batch.add_argument("--png", action="store_true", help="also write one figure per class")
    spread = batch.add_argument_group("spreading the work")
    spread.add_argument("--workers", type=positive_int, default=None,
                        help="with --ray: model copies (actors), default 2")
    spread.add_argument("--ray", metavar="auto|ADDRESS",
                        help="run on Ray: 'auto' starts one on this machine, ADDRESS joins a cluster")
    spread.add_argument("--restart", action="store_true",
                        help="discard the results already in DIR and start again")


def batch_settings(args):
    from engine.batch_worker import BatchSettings
    from engine.cli_common import (DEFAULT_CLASSES, lime_params, model_spec, parse_methods,
                                   shap_gradient_params, shap_params, validated)
    from engine.explain.gradcam import GradCamParams
    from engine.explain.integrated_gradients import IntegratedGradientsParams

    methods = parse_methods(args.method)
    params = {"shap": shap_params(args), "lime": lime_params(args),
              "gradcam": validated(GradCamParams(layer=args.layer)),
              "ig": validated(IntegratedGradientsParams(steps=args.ig_steps, baseline=args.baseline,
                                                         seed=args.seed))}
    if "shap-gradient" in methods:
        params["shap-gradient"] = shap_gradient_params(args, True)
    return BatchSettings(model=model_spec(args), methods=tuple(methods),
                         params={m: params[m] for m in methods}, classes=args.classes or DEFAULT_CLASSES,
                         seed=args.seed,
                         scoring=bool(args.metrics), scoring_steps=args.metric_steps,
                         stability=args.stability, png=args.png)


def run_batch_command(args) -> int:
    from engine.batch import BatchRun, run_batch
    from engine.cli_common import UsageError, classes_to_explain, load_classifier_for_cli

    if args.workers is not None and args.ray is None and args.workers > 1:
        raise UsageError("--workers N needs --ray auto (or a cluster address): one worker runs here")
    if args.ray is not None:
        from engine.batch_ray import require_ray

        require_ray()
    settings = batch_settings(args)

    def load():
        classifier = load_classifier_for_cli(args)
        classes_to_explain(args, classifier)  # a --classes the model cannot have: one line
        return classifier

    run = BatchRun(folder=Path(args.folder), out=args.out, settings=settings,
                   workers=args.workers or 2, ray=args.ray, restart=args.restart)
    return run_batch(run, load, out=sys.stdout, err=sys.stderr)
