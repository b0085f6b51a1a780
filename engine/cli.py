"""The headless command line: ``predict``, ``explain`` and ``evaluate`` (``gui`` args are parsed here too).

Exit status: 0 all good, 1 some images failed, 2 usage or setup error. Bad input is reported
as one line on stderr naming the file; no tracebacks for things a user can fix.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from engine import strict_json
from engine import heads
from engine.about import version_line
from engine.cli_common import (
    add_explain_options,
    classes_to_explain,
    lime_params,
    load_classifier_for_cli,
    max_evals_option,
    non_negative_int,
    parse_methods,
    positive_int,
    shap_gradient_params,
    shap_params,
    UsageError,
    validated,
)
from engine.errors import Cancelled, EngineError
from engine.explain.gradcam import GradCamParams
from engine.explain.integrated_gradients import BASELINES, IntegratedGradientsParams
from engine.explain.shap_gradient import ShapGradientParams
from engine.explain.shap_partition import check_blur_fits
from engine.preprocess import PREPROCESS_MODES

EXIT_OK, EXIT_SOME_FAILED, EXIT_SETUP = 0, 1, 2
GRID_ALL_CLASSES_LIMIT = 10


class StdoutError(EngineError):
    """Standard output cannot be written: a closed pipe (``| head -1``), a full disk, /dev/full."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad option is one line naming it (no usage block), exit 2."""

    def error(self, message: str):
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_SETUP)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="image-explainer",
                           description="Explain why an image classifier decided what it decided.")
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    common = OneLineParser(add_help=False)
    model = common.add_argument_group("model")
    model.add_argument("--model", default=None,  # not given: ResNet-50 (the window: the last model)
                       help="resnet50 (default), a .keras/.h5/.onnx file or a TensorFlow SavedModel folder")
    model.add_argument("--labels", help="class names: text file (one a line) or JSON")
    model.add_argument("--weights", help="ResNet-50 weights file, or 'none' for the untrained network")
    model.add_argument("--preprocess", choices=list(PREPROCESS_MODES),
                       help="input scaling (default: caffe for ResNet-50, none for your model; "
                            "torch for most PyTorch exports)")
    model.add_argument("--layout", choices=["NCHW", "NHWC"], type=str.upper, default=None,
                       help="ONNX input layout, when its shape does not say (default: from the shape)")
    model.add_argument("--trust-model", action="store_true",
                       help="allow a model that runs code when loaded (Lambda layers, SavedModel folders)")
    model.add_argument("--custom-objects", metavar="FILE.py",
                       help="Python file defining the model's custom layers (runs it: trusted models only, "
                            "with --trust-model)")
    model.add_argument("--runtime", choices=["auto", "keras", "openvino"], default=None,
                       help="forward pass: auto (default: OpenVINO on CPU when it matches Keras), "
                            "keras, or openvino (float32 either way)")
    model.add_argument("--precision", choices=["float32", "bfloat16"], default=None,
                       help="float32 (default) or bfloat16: about twice as fast on CPUs with "
                            "bfloat16 instructions (OpenVINO); numbers change slightly, results say so")
    model.add_argument("--no-download", action="store_true",
                       help="never download ResNet-50 weights; fail if they are missing")

    predict = commands.add_parser("predict", parents=[common], help="top classes of each image")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--top", type=positive_int, default=5, help="how many classes (default 5)")
    predict.add_argument("--json", action="store_true", help="print JSON instead of text")

    explain = commands.add_parser("explain", parents=[common], help="SHAP / LIME explanations")
    explain.add_argument("images", nargs="+", metavar="IMAGE")
    add_explain_options(explain)
    explain.add_argument("--out", type=Path, help="folder for PNG, NPZ and JSON files")
    explain.add_argument("--overwrite", action="store_true",
                         help="replace result files that exist already (otherwise the run stops first)")
    explain.add_argument("--json", action="store_true", help="print a JSON summary per image and method")
    explain.add_argument("--recompute", action="store_true",
                         help="compute again even when a stored result with the same model and settings exists")
    grid = explain.add_argument_group("images × classes grid")
    grid.add_argument("--grid", action="store_true",
                      help="one figure of all images × classes with one shared colour scale: "
                           "writes OUT/grid.png, grid.npz and grid.json (needs --out)")
    grid.add_argument("--all-classes", action="store_true",
                      help=f"grid columns: every class (models with up to {GRID_ALL_CLASSES_LIMIT} classes) "
                           "instead of the top --classes")
    grid.add_argument("--pdf", action="store_true", help="also write OUT/grid.pdf")

    evaluate = commands.add_parser("evaluate", parents=[common],
                                   help="accuracy and confusion matrix on a folder of class sub-folders")
    evaluate.add_argument("folder", metavar="FOLDER",
                          help="one sub-folder of images per class, named like the class labels")
    evaluate.add_argument("--batch-size", type=positive_int, default=32, help="images per model batch (default 32)")
    evaluate.add_argument("--out", type=Path, help="folder for metrics.json and confusion_matrix.png")
    evaluate.add_argument("--overwrite", action="store_true",
                          help="replace metrics.json / confusion_matrix.png if they exist")
    evaluate.add_argument("--json", action="store_true", help="print metrics.json to stdout instead of a table")

    from engine.batch_cli import add_batch_parser

    add_batch_parser(commands, common)

    gui = commands.add_parser("gui", parents=[common], help="open the window (the default)")
    gui.add_argument("images", nargs="*", metavar="IMAGE")
    gui.add_argument("--explain", metavar="METHODS", help="start explaining the first image: shap, lime or shap,lime")
    gui.add_argument("--samples", type=positive_int, help="LIME samples")
    gui.add_argument("--max-evals", type=max_evals_option, help="SHAP max evaluations")
    gui.add_argument("--classes", type=positive_int, help="how many top classes to explain")
    gui.add_argument("--screenshot", type=Path, help="save a PNG of the window when all jobs finish, then exit")
    gui.add_argument("--faithfulness", action="store_true",
                     help="score each explanation: SRG against random cell orders (this run only)")
    gui.add_argument("--stability", type=non_negative_int, metavar="N",
                     help="re-run LIME (and IG with a noise baseline) N more times with other seeds "
                          "for a spread map and stability score; 0 turns it off (this run only)")
    gui.add_argument("--ig-baseline", choices=BASELINES,
                     help="where Integrated Gradients' path starts (this run only)")
    return parser


def preload_background(params: ShapGradientParams, classifier) -> None:
    """Read the background folder once for all images (not once per image); report bad files."""
    from engine.explain.shap_gradient import load_background

    bar = _progress_bar("images")
    try:
        images, notes = load_background(params.background, classifier.input_size, params.max_background,
                                        params.seed, progress=bar or _silent)
    finally:
        if bar:
            bar.close()
    for note in notes:
        print(f"warning: background image skipped: {note}", file=sys.stderr)
    params.background_images = images


def readable_images(paths: list[str]) -> tuple[list[str], int]:
    """The image paths that are regular files; the others reported now, before the model loads."""
    from engine.errors import ImageError
    from engine.safe_files import require_regular_file

    kept, failed = [], 0
    for path in paths:
        try:
            require_regular_file(path, "image", ImageError)
        except EngineError as exc:
            _error(exc)
            failed += 1
            continue
        kept.append(path)
    return kept, failed


class ModelInputs:
    """The given image files, loaded and resized for the model, in order.

    A file that cannot be used is reported as one line and counted in ``failed``; the
    others still come.
    """

    def __init__(self, paths: list[str], classifier, failed: int = 0):
        self.paths = paths
        self.classifier = classifier
        self.failed = failed

    def __iter__(self):
        from engine.images import fit_to_model, load_image

        for path in self.paths:
            try:
                image = fit_to_model(load_image(path), self.classifier.input_size)
            except EngineError as exc:
                _error(exc)
                self.failed += 1
                continue
            yield path, image


def run_predict(args) -> int:
    paths, failed = readable_images(args.images)
    if not paths:
        return EXIT_SOME_FAILED
    classifier = load_classifier_for_cli(args)
    results = []
    inputs = ModelInputs(paths, classifier, failed)
    for path, image in inputs:
        predictions = classifier.top_k(classifier.predict(image)[0], args.top)
        results.append({"image": path, "head": classifier.head_kind.value,
                        "predictions": [p.to_json() for p in predictions]})
        if not args.json:
            head = heads.note(classifier.head_kind)
            say(f"{path}  [{classifier.label}{', ' + head if head else ''}]")
            for p in predictions:
                say(f"  {p.probability:7.2%}  {p.name}  ({p.index})")
    if args.json:
        say(strict_json.dumps(results))
    return EXIT_SOME_FAILED if inputs.failed else EXIT_OK


def run_explain(args) -> int:
    from engine import explain
    from engine.outputs import check_output_folder, distinct_stems, explanation_files, refuse_existing

    methods = parse_methods(args.method)
    if args.grid and len(methods) != 1:
        raise UsageError("--grid draws one method: choose --method shap, shap-gradient or lime")
    if args.grid and not args.out:
        raise UsageError("--grid needs --out DIR for grid.png")
    params = {"shap": shap_params(args), "lime": lime_params(args),
              "shap-gradient": shap_gradient_params(args, "shap-gradient" in methods),
              "gradcam": validated(GradCamParams(layer=args.layer)),
              "ig": validated(IntegratedGradientsParams(steps=args.ig_steps, baseline=args.baseline,
                                                         seed=args.seed))}
    # Every target is checked before anything is computed: no run ends in a refusal to write.
    stems = distinct_stems(args.images)
    if args.out:
        check_output_folder(args.out)
        if args.grid:
            refuse_existing(grid_files(args.out, args.pdf), args.overwrite)
        else:
            refuse_existing((f for stem in stems for m in methods for f in explanation_files(args.out, stem, m)),
                            args.overwrite)
    stem_of = dict(zip(args.images, stems))
    paths, failed = readable_images(args.images)
    if not paths:
        return EXIT_SOME_FAILED
    classifier = load_classifier_for_cli(args)
    runnable = []
    for method in methods:  # before any image: said once, and the other methods still run
        try:
            explain.refuse_without_gradients(method, classifier)
            runnable.append(method)
        except EngineError as exc:
            print(f"error: {method} skipped: {strict_one_line(exc)}", file=sys.stderr)
    if not runnable:
        return EXIT_SETUP
    if len(runnable) < len(methods):
        failed += 1
        methods = runnable
    args.classes = classes_to_explain(args, classifier)
    if args.sanity and getattr(classifier, "keras_model", None) is None:
        raise UsageError(f"--sanity randomises Keras layers; {classifier.name} is not a Keras model")
    if args.all_classes and classifier.num_classes > GRID_ALL_CLASSES_LIMIT:
        raise UsageError(f"--all-classes: the model has {classifier.num_classes} classes; the grid shows all "
                         f"classes only up to {GRID_ALL_CLASSES_LIMIT} (use --classes K)")
    if "shap" in methods:
        try:
            check_blur_fits(params["shap"].masker, classifier.input_size)
        except ValueError as exc:
            raise UsageError(f"--masker {args.masker}: {exc}") from None
    if params["shap-gradient"] is not None:
        preload_background(params["shap-gradient"], classifier)
    if args.grid:
        return run_grid(args, methods[0], params[methods[0]], classifier, paths, failed)
    return explain_images(args, methods, params, classifier, paths, failed, stem_of)


def explain_images(args, methods: list[str], params: dict, classifier, paths: list[str], failed: int,
                   stem_of: dict[str, str]) -> int:
    """Each image through the one pipeline, stored results reused unless ``--recompute``.
    A method this model cannot run is said once and skipped; the others go on (exit 1)."""
    import time

    from engine.export import summary, write_explanation
    from engine.outputs import explanation_files
    from engine.pipeline import ExplainRequest
    from engine.stored_run import StoredPipeline, default_store

    summaries = []
    inputs = ModelInputs(paths, classifier, failed)
    with default_store() as store:
        runner = StoredPipeline(store, classifier)
        for path, image in inputs:
            request = ExplainRequest(methods=tuple(methods), image=image,
                                     params={m: params[m] for m in methods}, classes=args.classes,
                                     seed=args.seed, scoring=args.metrics, scoring_steps=args.metric_steps,
                                     stability=args.stability, sanity=args.sanity,
                                     sanity_steps=args.sanity_steps)
            bar = _progress_bar("evals")
            try:
                result = runner.run(request, recompute=args.recompute, progress=bar or _silent)
            except ValueError as exc:  # the only method asked for cannot work on this model
                print(f"error: {methods[0]} skipped: {strict_one_line(exc)}", file=sys.stderr)
                return EXIT_SOME_FAILED
            except EngineError as exc:
                _error(exc, path)
                inputs.failed += 1
                continue
            finally:
                if bar:
                    bar.close()
            for method, why in result.skipped.items():  # said once, then not asked for again
                print(f"error: {method} skipped: {strict_one_line(why)}", file=sys.stderr)
                methods = [m for m in methods if m != method]
                inputs.failed += 1
            predictions = result.predictions[: args.classes]
            for method in request.methods:
                explanation = result.explanations.get(method)
                if explanation is None:
                    continue
                scores, stability = result.scores.get(method), result.stability.get(method)
                sanity = result.sanity.get(method)
                info = summary(explanation, path, predictions, scores, stability, sanity)
                summaries.append(info)
                if args.out:
                    stem = stem_of[path]
                    info["output_name"] = stem
                    old = explanation_files(args.out, stem, method)
                    written = write_explanation(args.out, stem, explanation, path, predictions,
                                                faithfulness=scores, stability=stability, sanity=sanity)
                    for stale in set(old) - set(written):  # --overwrite: no PNG of an older run stays
                        stale.unlink(missing_ok=True)
                if not args.json:
                    names = ", ".join(f"{n} ({p:.1%})" for n, p in
                                      zip(explanation.class_names, explanation.probabilities))
                    stored = result.stored_at.get(method)
                    when = (f"stored {time.strftime('%Y-%m-%d %H:%M', time.localtime(stored))}"
                            if stored is not None else f"in {explanation.timings['explain_s']:.1f} s")
                    say(f"{path}  {method}: {names}  {when}  [{explanation.model}]")
            if not methods:
                break
    if args.json:
        say(strict_json.dumps(summaries))
    return EXIT_SOME_FAILED if inputs.failed else EXIT_OK


def grid_files(out: Path, pdf: bool) -> list[Path]:
    names = ["grid.png", "grid.npz", "grid.json"] + (["grid.pdf"] if pdf else [])
    return [Path(out) / name for name in names]


def run_grid(args, method: str, params, classifier, paths: list[str], failed: int) -> int:
    """All images × the chosen classes in one figure with one colour scale (shap.image_plot)."""
    import numpy as np

    from engine import explain
    from engine.evaluate import normalise_label
    from engine.export import add_json
    from engine.outputs import ResultSet
    from engine.render import save_grid

    inputs = ModelInputs(paths, classifier, failed)
    loaded = list(inputs)
    paths, images, failed = [p for p, _ in loaded], [i for _, i in loaded], inputs.failed
    if not images:
        raise UsageError("no image could be read for the grid")
    images = np.stack(images)
    probabilities = classifier.predict(images)
    predicted = probabilities.argmax(axis=1)
    if args.all_classes:
        columns = list(range(classifier.num_classes))
    else:  # the classes most probable for any of the images
        columns = [int(i) for i in np.argsort(-probabilities.max(axis=0), kind="stable")[: args.classes]]
    # An image inside a folder named like a class (photos/cat/x.jpg) has that class as its truth.
    by_label = {normalise_label(n): i for i, n in reversed(list(enumerate(classifier.class_names)))}
    true = [by_label.get(normalise_label(Path(p).resolve().parent.name), -1) for p in paths]

    maps, results = [], []
    for path, image in zip(paths, images):
        bar = _progress_bar("evals")
        try:
            result = explain.run(method, image, classifier, columns, params, progress=bar)
        except ValueError as exc:  # the method cannot work on this model: no grid at all
            raise UsageError(f"{method} cannot run on this model: {strict_one_line(exc)}") from None
        finally:
            if bar:
                bar.close()
        maps.append(result.maps)
        results.append(result)
        if not args.json:
            say(f"{path}  {method}: predicted {classifier.class_names[predicted[len(maps) - 1]]} "
                f"({probabilities[len(maps) - 1].max():.1%})  in {result.timings['explain_s']:.1f} s  "
                f"[{result.model}]")
    maps = np.stack(maps).astype(np.float32)
    names = [classifier.class_names[c] for c in columns]
    row_labels = []
    for path, t, p, row in zip(paths, true, predicted, probabilities):
        truth = f"true: {classifier.class_names[t]}\n" if t >= 0 else ""
        row_labels.append(f"{Path(path).name}\n{truth}pred: {classifier.class_names[p]} ({row[p]:.0%})")
    true_columns = [columns.index(t) if t in columns else None for t in true]
    predicted_columns = [columns.index(int(p)) if int(p) in columns else None for p in predicted]

    out = args.out
    drawing = (images, maps, names, row_labels, true_columns, predicted_columns)
    value_label = "LIME weight" if method == "lime" else "SHAP value"
    arrays = {"maps": maps, "images": images.astype(np.uint8), "classes": np.asarray(columns, np.int64),
              "class_names": np.asarray(names, dtype=str), "files": np.asarray([str(p) for p in paths], dtype=str),
              "predicted_classes": predicted.astype(np.int64), "true_classes": np.asarray(true, np.int64),
              "probabilities": probabilities[:, columns].astype(np.float32)}
    first = results[0]
    info = {"method": method, "model": first.model, "untrained": first.untrained, "params": first.params,
            "classes": columns, "class_names": names,
            "images": [{"image": str(p), "predicted": int(c), "predicted_name": classifier.class_names[c],
                        "probability": float(r[c]), "true": int(t) if t >= 0 else None,
                        "true_name": classifier.class_names[t] if t >= 0 else None}
                       for p, c, r, t in zip(paths, predicted, probabilities, true)],
            "timings": {"explain_s": sum(r.timings["explain_s"] for r in results)},
            "versions": first.versions}
    targets = grid_files(out, args.pdf)
    with ResultSet(out) as files:  # grid.png, .npz, .json (and .pdf) appear together or not at all
        files.add(targets[0], lambda f: save_grid(f, *drawing, format="png", value_label=value_label))
        files.add(targets[1], lambda f: np.savez_compressed(f, **arrays))
        add_json(files, targets[2], info)
        if args.pdf:
            files.add(targets[3], lambda f: save_grid(f, *drawing, format="pdf", value_label=value_label))
        files.commit()
    if args.json:
        say(strict_json.dumps(info))
    else:
        say(f"grid: {len(paths)} image(s) × {len(columns)} class(es) -> {out / 'grid.png'}")
    return EXIT_SOME_FAILED if failed else EXIT_OK


def run_evaluate(args) -> int:
    from engine.evaluate import evaluate_folder
    from engine.export import EVALUATION_FILES, write_evaluation
    from engine.outputs import check_output_folder, refuse_existing

    folder = Path(args.folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder.name}: not a folder; evaluate needs a folder of class sub-folders")
    if not folder.is_dir():
        raise UsageError(f"{folder.name or folder}: folder not found")
    if args.out:
        check_output_folder(args.out)
        refuse_existing((args.out / name for name in EVALUATION_FILES), args.overwrite)
    classifier = load_classifier_for_cli(args)
    bar = _progress_bar("images")
    try:
        result = evaluate_folder(args.folder, classifier, batch_size=args.batch_size, progress=bar or _silent)
    finally:
        if bar:
            bar.close()
    for item in result.skipped:
        print(f"error: {item['error']}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    metrics = result.to_json()
    if args.out:
        write_evaluation(args.out, result)
    if args.json:
        say(strict_json.dumps(metrics))
    else:
        correct = int(result.confusion_matrix.trace())
        say(f"{args.folder}  [{classifier.label}]")
        say(f"accuracy {result.accuracy:.1%}  ({correct} of {result.total} images)")
        rows = [(label, m) for label, m in result.per_class.items()
                if m["support"] or (len(result.labels) <= 30)]
        width = max([len("class")] + [len(label) for label, _ in rows])
        say(f"  {'class':<{width}}  precision  recall  support")
        for label, m in rows:
            say(f"  {label:<{width}}  {_percent(m['precision']):>9}  {_percent(m['recall']):>6}  {m['support']:>7}")
        if result.misclassified:
            say(f"{len(result.misclassified)} misclassified")
        if args.out:
            say(f"wrote {args.out / 'metrics.json'} and {args.out / 'confusion_matrix.png'}")
    # Unreadable images or sub-folders named like no class: some of the input was not evaluated.
    return EXIT_SOME_FAILED if result.skipped or result.skipped_folders else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry for headless commands; returns the exit status. ``gui`` is handled by main.py."""
    from engine import interrupts
    from engine.library_warnings import one_line_warnings

    interrupts.install()
    one_line_warnings()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "predict":
            status = run_predict(args)
        elif args.command == "explain":
            status = run_explain(args)
        elif args.command == "evaluate":
            status = run_evaluate(args)
        elif args.command == "batch":
            from engine.batch_cli import run_batch_command

            status = run_batch_command(args)
        else:
            parser.print_help()
            status = EXIT_SETUP
        _flush_stdout()
        return status
    except StdoutError as exc:
        _error(exc)
        return EXIT_SETUP
    except (UsageError, EngineError, ValueError) as exc:
        _error(exc)
        return EXIT_SETUP
    except Cancelled:
        print("cancelled", file=sys.stderr)
        return interrupts.EXIT_SIGINT
    except KeyboardInterrupt as exc:
        print(interrupts.message(exc), file=sys.stderr)
        return interrupts.exit_status(exc)
    except Exception as exc:  # a bug, not the user's input: still one line (full trace on request)
        if os.environ.get("IMAGE_EXPLAINER_DEBUG"):
            raise
        print(f"error: unexpected {type(exc).__name__}: {strict_one_line(exc)} "
              "(set IMAGE_EXPLAINER_DEBUG=1 for the full trace)", file=sys.stderr)
        return EXIT_SETUP


def say(text: str) -> None:
    """One line on standard output; a closed pipe or full disk becomes a StdoutError."""
    try:
        print(text, flush=True)
    except OSError as err:
        _abandon_stdout()
        raise StdoutError(f"standard output: cannot write ({_stdout_reason(err)})") from None


def _flush_stdout() -> None:
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError as err:
        _abandon_stdout()
        raise StdoutError(f"standard output: cannot write ({_stdout_reason(err)})") from None


def _stdout_reason(err: OSError) -> str:
    if isinstance(err, BrokenPipeError):
        return "the reading end of the pipe closed"
    return err.strerror or type(err).__name__


def _abandon_stdout() -> None:
    """Point stdout at /dev/null so Python's exit flush does not print a second traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def strict_one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _progress_bar(unit: str):
    from engine.weights import TextProgressBar

    return TextProgressBar(unit=unit) if sys.stderr is not None and sys.stderr.isatty() else None


def _silent(done: int, total: int, stage: str) -> None:
    pass


def _percent(value) -> str:
    return "—" if value is None else f"{value:.1%}"


def _error(exc: BaseException, path: str | None = None) -> None:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    prefix = f"{Path(path).name}: " if path and not text.startswith(Path(path).name) else ""
    print(f"error: {prefix}{text}", file=sys.stderr)


