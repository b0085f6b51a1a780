"""What the commands share: the explain options and their checks, the methods' parameters
built from them, and loading the model (with the ResNet-50 download offered on the terminal).

Used by ``explain``/``predict``/``evaluate`` (engine.cli) and ``batch`` (engine.batch_cli), so
neither command module imports the other for them.
"""

from __future__ import annotations

import argparse
import math
import sys

from engine.errors import EngineError, WeightsMissingError
from engine.explain.integrated_gradients import BASELINES, IntegratedGradientsParams
from engine.explain.lime_image import DISTANCE_METRICS, SEGMENTATION_DEFAULTS, LimeParams
from engine.explain.shap_gradient import EXPLAINERS, ShapGradientParams
from engine.explain.shap_partition import MAX_BLUR_KERNEL, ShapParams

DEFAULT_CLASSES = 3  # top classes explained when --classes is not given
METHOD_NAMES = ("shap", "lime", "shap-gradient", "gradcam", "ig")
MAX_SEED = 2**32 - 1  # numpy's and LIME's seed range


class UsageError(Exception):
    pass


def add_explain_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", default="shap", help="shap, lime, or both: shap,lime (default shap)")
    parser.add_argument("--classes", type=positive_int, default=None,
                        help=f"explain the top K classes (default {DEFAULT_CLASSES}, or every class of a "
                             "model with fewer)")
    parser.add_argument("--seed", type=seed_option, default=0, help=f"random seed, 0 to {MAX_SEED} (default 0)")
    shap = parser.add_argument_group("SHAP (Partition)")
    shap.add_argument("--masker", type=masker_option, default=ShapParams.masker,
                      help=f"inpaint_telea (default), inpaint_ns or blur(k,k) with 1 <= k <= {MAX_BLUR_KERNEL}")
    shap.add_argument("--max-evals", type=max_evals_option, default=ShapParams.max_evals, help="10 or more (default 500)")
    shap.add_argument("--batch-size", type=positive_int, default=ShapParams.batch_size,
                      help="default 50 (also for shap-gradient)")
    background = parser.add_argument_group("SHAP with a background set (--method shap-gradient)")
    background.add_argument("--background", metavar="FOLDER",
                            help="folder of typical images the explanation compares against")
    background.add_argument("--max-background", type=positive_int, default=ShapGradientParams.max_background,
                            help="use at most this many background images, a random subset (default 100)")
    background.add_argument("--gradient-samples", type=positive_int, default=ShapGradientParams.samples,
                            help="GradientExplainer samples per class (default 200)")
    background.add_argument("--explainer", choices=EXPLAINERS, default=ShapGradientParams.explainer,
                            help="auto (default: DeepExplainer, else GradientExplainer), deep or gradient")
    fast = parser.add_argument_group("Grad-CAM and Integrated Gradients (instant previews)")
    fast.add_argument("--layer", help="Grad-CAM layer (default: the last convolutional layer)")
    fast.add_argument("--ig-steps", type=positive_int, default=IntegratedGradientsParams.steps,
                      help="Integrated Gradients path steps (default 32)")
    fast.add_argument("--baseline", choices=BASELINES, default=IntegratedGradientsParams.baseline,
                      help="Integrated Gradients baseline image (default black)")
    faithful = parser.add_argument_group("faithfulness")
    faithful.add_argument("--metrics", action="store_true",
                          help="faithfulness of each map: cells removed most/least relevant first, "
                               "score SRG beside a band of random orders (written to the JSON)")
    faithful.add_argument("--metric-steps", type=at_least_two, default=20,
                          help="cell-removal steps for --metrics (default 20)")
    faithful.add_argument("--sanity", action="store_true",
                          help="re-run each method with the model's layers randomised top-down and "
                               "compare the maps (rank correlation, SSIM; written to the JSON)")
    faithful.add_argument("--sanity-steps", type=positive_int, default=5,
                          help="cascade steps for --sanity: the head, then runs of deeper layers (default 5)")
    faithful.add_argument("--stability", type=non_negative_int, default=0, metavar="N",
                          help="re-run LIME (and IG with a noise baseline) N more times with other seeds "
                               "for a spread map and stability score (default 0: off)")
    lime = parser.add_argument_group("LIME")
    lime.add_argument("--samples", type=positive_int, default=LimeParams.num_samples, help="default 1000")
    lime.add_argument("--num-features", type=positive_int, default=LimeParams.num_features, help="default 1000")
    lime.add_argument("--hide-color", type=hide_color_option, default="0",
                      help="colour of hidden segments: a number, or 'mean' (default 0)")
    lime.add_argument("--lime-batch-size", type=positive_int, default=LimeParams.batch_size, help="default 50")
    lime.add_argument("--kernel-width", type=positive_float, default=LimeParams.kernel_width, help="default 0.25")
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
    validate(params)
    return params


def shap_gradient_params(args, needed: bool) -> ShapGradientParams | None:
    if not needed:
        return None
    if not args.background:
        raise UsageError("--method shap-gradient needs --background FOLDER (typical images to compare against)")
    params = ShapGradientParams(background=args.background, max_background=args.max_background,
                                samples=args.gradient_samples, batch_size=args.batch_size, seed=args.seed,
                                explainer=args.explainer)
    validate(params)
    return params


def lime_params(args) -> LimeParams:
    hide = None if str(args.hide_color).lower() in ("mean", "none") else number_option(args.hide_color, "--hide-color")
    params = LimeParams(num_samples=args.samples, num_features=args.num_features, hide_color=hide,
                        batch_size=args.lime_batch_size, kernel_width=args.kernel_width,
                        distance_metric=args.distance_metric, segmentation=args.segmentation,
                        segmentation_params=seg_params(args.seg_param), seed=args.seed)
    validate(params)
    return params


def model_spec(args):
    from engine.models import ModelSpec

    return ModelSpec(model=args.model or "resnet50", weights=args.weights, labels=args.labels,
                     preprocess=args.preprocess, trust=args.trust_model,
                     custom_objects=getattr(args, "custom_objects", None),
                     runtime=getattr(args, "runtime", None),
                     precision=getattr(args, "precision", None) or "float32",
                     layout=getattr(args, "layout", None))


def load_classifier_for_cli(args):
    """Load the model; offer the ResNet-50 download on the terminal when weights are missing."""
    from engine.models import load_classifier

    spec = model_spec(args)
    if spec.custom_objects and not spec.trust:  # before anything loads: it would run that file
        raise UsageError(f"--custom-objects {spec.custom_objects}: runs that Python file; "
                         "give it only with --trust-model, for a model you trust")
    try:
        return load_classifier(spec)
    except WeightsMissingError as missing:
        if args.no_download:
            raise
        download_weights(missing)
        return load_classifier(spec)


def classes_to_explain(args, classifier) -> int:
    """``--classes`` as given (refused when the model has fewer), else the default, at most
    the model's class count (a binary model explains its two classes)."""
    if args.classes is None:
        return min(DEFAULT_CLASSES, classifier.num_classes)
    if args.classes > classifier.num_classes and not (getattr(args, "grid", False) and args.all_classes):
        raise UsageError(f"--classes {args.classes}: the model has only {classifier.num_classes} classes")
    return args.classes


def validated(params):
    validate(params)
    return params


def validate(params) -> None:
    try:
        params.validate()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def download_weights(missing: WeightsMissingError) -> None:
    from engine.weights import TextProgressBar, download_resnet50_weights

    print(f"ResNet-50 ImageNet weights not found locally; downloading {missing.filename} ...", file=sys.stderr)
    try:
        with TextProgressBar() as bar:
            download_resnet50_weights(progress=bar)
    except EngineError as exc:
        raise EngineError(f"{exc}. {missing}") from None


def seg_params(items: list[str]) -> dict:
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--seg-param {item!r}: expected NAME=VALUE")
        params[name.strip()] = number_option(value, f"--seg-param {name}")
    return params


def number_option(text: str, option: str):
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"{option}: {text!r} is not a finite number")
    return int(value) if value.is_integer() else value


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def seed_option(text: str) -> int:
    value = _whole_number(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{value} is out of range: use 0 to {MAX_SEED}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number above 0")
    return value


def hide_color_option(text: str) -> str:
    if text.strip().lower() in ("mean", "none"):
        return text.strip().lower()
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number or 'mean'") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number (or 'mean')")
    return text


def masker_option(text: str) -> str:
    masker = text.strip()
    try:
        ShapParams(masker=masker).validate()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return masker


def positive_int(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def max_evals_option(text: str) -> int:
    value = positive_int(text)
    if value < 10:  # Partition needs the empty and full masks and a few coalitions between
        raise argparse.ArgumentTypeError("must be at least 10")
    return value


def non_negative_int(text: str) -> int:
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def at_least_two(text: str) -> int:
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError("must be at least 2")
    return value
