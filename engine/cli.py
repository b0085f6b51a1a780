"""The headless command line: ``predict`` and ``explain`` (``gui`` args are parsed here too).

Exit status: 0 all good, 1 some images failed, 2 usage or setup error. Bad input is reported
as one line on stderr naming the file; no tracebacks for things a user can fix.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from engine.errors import Cancelled, EngineError, WeightsMissingError
from engine.explain.lime_image import DISTANCE_METRICS, SEGMENTATION_DEFAULTS, LimeParams
from engine.explain.shap_partition import ShapParams
from engine.preprocess import PREPROCESS_MODES

EXIT_OK, EXIT_SOME_FAILED, EXIT_SETUP = 0, 1, 2
METHOD_NAMES = ("shap", "lime")


class UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="image-explainer",
                                     description="Explain why an image classifier decided what it decided.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    model = common.add_argument_group("model")
    model.add_argument("--model", default="resnet50", help="resnet50 (default) or a .keras/.h5 file")
    model.add_argument("--labels", help="class names: text file (one a line) or JSON")
    model.add_argument("--weights", help="ResNet-50 weights file, or 'none' for the untrained network")
    model.add_argument("--preprocess", choices=list(PREPROCESS_MODES),
                       help="input scaling (default: caffe for ResNet-50, none for your model)")
    model.add_argument("--trust-model", action="store_true",
                       help="allow a model file that runs code when loaded (Lambda layers)")
    model.add_argument("--no-download", action="store_true",
                       help="never download ResNet-50 weights; fail if they are missing")

    predict = commands.add_parser("predict", parents=[common], help="top classes of each image")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--top", type=_positive_int, default=5, help="how many classes (default 5)")
    predict.add_argument("--json", action="store_true", help="print JSON instead of text")

    explain = commands.add_parser("explain", parents=[common], help="SHAP / LIME explanations")
    explain.add_argument("images", nargs="+", metavar="IMAGE")
    add_explain_options(explain)
    explain.add_argument("--out", type=Path, help="folder for PNG, NPZ and JSON files")
    explain.add_argument("--json", action="store_true", help="print a JSON summary per image and method")

    gui = commands.add_parser("gui", parents=[common], help="open the window (the default)")
    gui.add_argument("images", nargs="*", metavar="IMAGE")
    gui.add_argument("--explain", metavar="METHODS", help="start explaining the first image: shap, lime or shap,lime")
    gui.add_argument("--samples", type=_positive_int, help="LIME samples")
    gui.add_argument("--max-evals", type=_positive_int, help="SHAP max evaluations")
    gui.add_argument("--classes", type=_positive_int, help="how many top classes to explain")
    gui.add_argument("--screenshot", type=Path, help="save a PNG of the window when all jobs finish, then exit")
    return parser


def add_explain_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", default="shap", help="shap, lime, or both: shap,lime (default shap)")
    parser.add_argument("--classes", type=_positive_int, default=3, help="explain the top K classes (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    shap = parser.add_argument_group("SHAP (Partition)")
    shap.add_argument("--masker", default=ShapParams.masker, help="inpaint_telea (default), inpaint_ns or blur(k,k)")
    shap.add_argument("--max-evals", type=_positive_int, default=ShapParams.max_evals, help="default 500")
    shap.add_argument("--batch-size", type=_positive_int, default=ShapParams.batch_size, help="default 50")
    lime = parser.add_argument_group("LIME")
    lime.add_argument("--samples", type=_positive_int, default=LimeParams.num_samples, help="default 1000")
    lime.add_argument("--num-features", type=_positive_int, default=LimeParams.num_features, help="default 1000")
    lime.add_argument("--hide-color", default="0", help="colour of hidden segments: a number, or 'mean' (default 0)")
    lime.add_argument("--lime-batch-size", type=_positive_int, default=LimeParams.batch_size, help="default 50")
    lime.add_argument("--kernel-width", type=float, default=LimeParams.kernel_width, help="default 0.25")
    lime.add_argument("--distance-metric", choices=DISTANCE_METRICS, default=LimeParams.distance_metric)
    lime.add_argument("--segmentation", choices=list(SEGMENTATION_DEFAULTS), default=LimeParams.segmentation)
    lime.add_argument("--seg-param", action="append", default=[], metavar="NAME=VALUE",
                      help="segmentation parameter, e.g. kernel_size=4, n_segments=100 (repeatable)")


def parse_methods(text: str) -> list[str]:
    methods = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHOD_NAMES]
    if unknown or not methods:
        raise UsageError(f"unknown method {', '.join(unknown) or text!r}; choose from {', '.join(METHOD_NAMES)}")
    return list(dict.fromkeys(methods))


def shap_params(args) -> ShapParams:
    params = ShapParams(masker=args.masker, max_evals=args.max_evals, batch_size=args.batch_size)
    _validate(params)
    return params


def lime_params(args) -> LimeParams:
    hide = None if str(args.hide_color).lower() in ("mean", "none") else _number(args.hide_color, "--hide-color")
    params = LimeParams(num_samples=args.samples, num_features=args.num_features, hide_color=hide,
                        batch_size=args.lime_batch_size, kernel_width=args.kernel_width,
                        distance_metric=args.distance_metric, segmentation=args.segmentation,
                        segmentation_params=_seg_params(args.seg_param), seed=args.seed)
    _validate(params)
    return params


def model_spec(args):
    from engine.models import ModelSpec

    return ModelSpec(model=args.model, weights=args.weights, labels=args.labels,
                     preprocess=args.preprocess, trust=args.trust_model)


def load_classifier_for_cli(args):
    """Load the model; offer the ResNet-50 download on the terminal when weights are missing."""
    from engine.models import load_classifier

    spec = model_spec(args)
    try:
        return load_classifier(spec)
    except WeightsMissingError as missing:
        if args.no_download:
            raise
        _download_weights(missing)
        return load_classifier(spec)


def run_predict(args) -> int:
    from engine.images import fit_to_model, load_image

    classifier = load_classifier_for_cli(args)
    results, failed = [], 0
    for path in args.images:
        try:
            image = fit_to_model(load_image(path), classifier.input_size)
        except EngineError as exc:
            _error(exc)
            failed += 1
            continue
        predictions = classifier.top_k(classifier.predict(image)[0], args.top)
        results.append({"image": path, "predictions": [p.to_json() for p in predictions]})
        if not args.json:
            print(f"{path}  [{classifier.label}]")
            for p in predictions:
                print(f"  {p.probability:7.2%}  {p.name}  ({p.index})")
    if args.json:
        print(json.dumps(results, indent=2))
    return EXIT_SOME_FAILED if failed else EXIT_OK


def run_explain(args) -> int:
    from engine import explain
    from engine.export import summary, write_explanation
    from engine.images import fit_to_model, load_image
    from engine.weights import TextProgressBar

    methods = parse_methods(args.method)
    params = {"shap": shap_params(args), "lime": lime_params(args)}
    classifier = load_classifier_for_cli(args)
    if args.classes > classifier.num_classes:
        raise UsageError(f"--classes {args.classes}: the model has only {classifier.num_classes} classes")
    failed, summaries = 0, []
    for path in args.images:
        try:
            image = fit_to_model(load_image(path), classifier.input_size)
        except EngineError as exc:
            _error(exc)
            failed += 1
            continue
        predictions = classifier.top_k(classifier.predict(image)[0], args.classes)
        targets = [p.index for p in predictions]
        for method in methods:
            bar = TextProgressBar(unit="evals") if sys.stderr.isatty() else None
            try:
                result = explain.run(method, image, classifier, targets, params[method], progress=bar)
            except EngineError as exc:
                _error(exc, path)
                failed += 1
                continue
            finally:
                if bar:
                    bar.close()
            info = summary(result, path, predictions)
            summaries.append(info)
            if args.out:
                write_explanation(args.out, Path(path).stem, result, path, predictions)
            if not args.json:
                names = ", ".join(f"{n} ({p:.1%})" for n, p in zip(result.class_names, result.probabilities))
                print(f"{path}  {method}: {names}  in {result.timings['explain_s']:.1f} s  [{result.model}]")
    if args.json:
        print(json.dumps(summaries, indent=2, default=str))
    return EXIT_SOME_FAILED if failed else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry for headless commands; returns the exit status. ``gui`` is handled by main.py."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "predict":
            return run_predict(args)
        if args.command == "explain":
            return run_explain(args)
        parser.print_help()
        return EXIT_SETUP
    except (UsageError, EngineError, ValueError) as exc:
        _error(exc)
        return EXIT_SETUP
    except (Cancelled, KeyboardInterrupt):
        print("cancelled", file=sys.stderr)
        return 130


def _download_weights(missing: WeightsMissingError) -> None:
    from engine.weights import TextProgressBar, download_resnet50_weights

    print(f"ResNet-50 ImageNet weights not found locally; downloading {missing.filename} ...", file=sys.stderr)
    try:
        with TextProgressBar() as bar:
            download_resnet50_weights(progress=bar)
    except EngineError as exc:
        raise EngineError(f"{exc}. {missing}") from None


def _validate(params) -> None:
    try:
        params.validate()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _seg_params(items: list[str]) -> dict:
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--seg-param {item!r}: expected NAME=VALUE")
        params[name.strip()] = _number(value, f"--seg-param {name}")
    return params


def _number(text: str, option: str):
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a number") from None
    return int(value) if value.is_integer() else value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _error(exc: BaseException, path: str | None = None) -> None:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    prefix = f"{Path(path).name}: " if path and not text.startswith(Path(path).name) else ""
    print(f"error: {prefix}{text}", file=sys.stderr)
