"""``main.py self-test``: a quick headless check that the whole engine works here.

Meant for a built (frozen) app, where a missing module or data file shows up only at run
time, and just as runnable from source. It loads the untrained ResNet-50 (no weights file
or download needed, same compute), predicts the bundled sample image, explains it with
small SHAP and LIME runs, renders one PNG and predicts with a tiny ONNX model it writes
(OpenVINO's ONNX frontend, checked against numpy), then prints a short summary ending in
"self-test passed" and returns 0; on failure it prints one line and returns 1.

A windowed app on Windows or macOS has no console, so ``--report FILE`` also writes the
summary (and, on failure, the traceback) to a file.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

SAMPLE = ("samples", "chelsea.png")
SHAP_MAX_EVALS = 40
LIME_SAMPLES = 30
PASSED = "self-test passed"


class _Report:
    """Lines for the terminal (when there is one) and for the ``--report`` file."""

    def __init__(self, path: Path | None):
        self.path = path
        self.lines: list[str] = []

    def say(self, line: str) -> None:
        self.lines.append(line)
        stream = sys.stdout
        if stream is not None:
            try:
                print(line, file=stream, flush=True)
            except (OSError, ValueError):
                pass

    def save(self, extra: str = "") -> None:
        if self.path is None:
            return
        text = "\n".join(self.lines) + "\n" + extra
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(text, encoding="utf-8")
        except OSError as exc:
            stream = sys.stderr
            if stream is not None:
                print(f"self-test: cannot write report {self.path}: {exc}", file=stream)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="image-explainer self-test",
        description="Headless check: untrained ResNet-50, sample image, SHAP, LIME, PNG.",
    )
    parser.add_argument("--report", type=Path, help="also write the summary to this file")
    parser.add_argument("--traceback", action="store_true", help="print the full traceback on failure")
    return parser


def run_self_test(argv: list[str] | None = None) -> int:
    """Run the check; ``argv`` are the options after ``self-test``. Returns the exit status."""
    args = build_parser().parse_args([] if argv is None else argv)
    report = _Report(args.report)
    stage = "start"
    try:
        started = time.perf_counter()
        for stage, step in _steps(report):
            step()
        report.say(f"total: {time.perf_counter() - started:.1f} s")
        report.say(PASSED)
        report.save()
        return 0
    except BaseException as exc:  # noqa: BLE001 - anything at all means the check failed
        if isinstance(exc, KeyboardInterrupt):
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        report.say(f"self-test failed during {stage}: {type(exc).__name__}: {message}".rstrip(": "))
        details = traceback.format_exc()
        if args.traceback and sys.stderr is not None:
            print(details, file=sys.stderr)
        report.save(details)
        return 1


def _steps(report: _Report):
    """(stage name, callable) pairs; the names say where a failure happened."""
    state: dict = {}

    def environment():
        from engine.resources import app_root, is_frozen

        kind = "frozen app" if is_frozen() else "source"
        report.say(f"image explainer self-test ({kind}, Python {platform.python_version()}, "
                   f"{platform.system()} {platform.machine()})")
        report.say(f"app root: {app_root()}")

    def model():
        from engine.backend import backend_version, device_description
        from engine.models import ModelSpec, load_classifier
        from engine.weights import find_resnet50_weights

        t0 = time.perf_counter()
        classifier = load_classifier(ModelSpec(weights="none"))
        classifier.warm_up()
        state["classifier"] = classifier
        if classifier.num_classes != 1000:
            raise RuntimeError(f"expected 1000 ImageNet class names, got {classifier.num_classes}")
        try:
            found = find_resnet50_weights()
        except Exception as exc:  # an unusable IMAGE_EXPLAINER_WEIGHTS is worth a note, no more
            found = f"unusable ({exc})"
        report.say(f"model: {classifier.label}, loaded in {time.perf_counter() - t0:.1f} s")
        report.say(f"backend: {backend_version()}, device: {device_description()}")
        runtime = "OpenVINO (float32)" if classifier.runtime == "openvino" else "Keras"
        note = f" ({classifier.runtime_note})" if classifier.runtime_note else ""
        report.say(f"forward pass: {runtime}{note}")
        report.say(f"pretrained weights: {found or 'not found locally (downloaded on first use)'}")

    def image():
        from engine.images import fit_to_model, load_image
        from engine.resources import resource_path

        path = resource_path(*SAMPLE)
        classifier = state["classifier"]
        state["image"] = fit_to_model(load_image(path), classifier.input_size)
        state["image_path"] = path

    def predict():
        classifier = state["classifier"]
        t0 = time.perf_counter()
        probabilities = classifier.predict(state["image"])[0]
        if not math.isclose(float(probabilities.sum()), 1.0, rel_tol=1e-3):
            raise RuntimeError(f"probabilities sum to {float(probabilities.sum())}, not 1")
        top = classifier.top_k(probabilities, 1)[0]
        state["top"] = top
        report.say(f"sample: {state['image_path'].name}; top class: {top.name} "
                   f"({top.probability:.2%}) in {time.perf_counter() - t0:.2f} s")

    def explain_with(method):
        def run():
            import numpy as np

            from engine import explain
            from engine.explain.lime_image import LimeParams
            from engine.explain.shap_partition import ShapParams

            params = {
                "shap": ShapParams(max_evals=SHAP_MAX_EVALS, batch_size=20),
                "lime": LimeParams(num_samples=LIME_SAMPLES, batch_size=15),
            }[method]
            classifier = state["classifier"]
            t0 = time.perf_counter()
            result = explain.run(method, state["image"], classifier, [state["top"].index], params)
            seconds = time.perf_counter() - t0
            expected = (1, *classifier.input_size)
            if result.maps.shape != expected or not np.all(np.isfinite(result.maps)):
                raise RuntimeError(f"{method} map has shape {result.maps.shape}, expected {expected}")
            state.setdefault("explanations", []).append(result)
            report.say(f"{method}: {seconds:.1f} s")
        return run

    def inpainting():
        """SHAP's masks are filled by a compiled kernel that must match cv2.inpaint exactly,
        here too (in a frozen app numba compiles it at run time)."""
        import cv2
        import numpy as np

        from engine.explain import telea

        image = np.ascontiguousarray(state["image"])
        mask = np.zeros(image.shape[:2], np.uint8)
        mask[image.shape[0] // 4:image.shape[0] // 2, image.shape[1] // 3:] = 1
        mask[::9, ::7] = 1
        t0 = time.perf_counter()
        telea.warm_up()  # compiled on first use, then loaded from numba's cache
        ready_s = time.perf_counter() - t0
        same = np.array_equal(telea.inpaint(image, mask), cv2.inpaint(image, mask, 3, cv2.INPAINT_TELEA))
        if not same:
            raise RuntimeError("the Telea kernel's image differs from cv2.inpaint's")
        report.say(f"inpainting: kernel ready in {ready_s:.2f} s, image identical to cv2.inpaint's")

    def onnx_model():
        """A tiny ONNX classifier (flatten, dense layer, softmax) written here: its answer
        in numpy is the check that the ONNX frontend is present and reads it right."""
        import numpy as np
        from onnx import TensorProto, helper, numpy_helper, save

        from engine.models import ModelSpec, load_classifier

        rng = np.random.default_rng(0)
        size, classes = 8, 3
        weights = rng.normal(0, 0.05, (3 * size * size, classes)).astype(np.float32)
        nodes = [helper.make_node("Flatten", ["image"], ["flat"]),
                 helper.make_node("Gemm", ["flat", "w"], ["logits"]),
                 helper.make_node("Softmax", ["logits"], ["p"], axis=1)]
        graph = helper.make_graph(
            nodes, "selftest", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, size, size])],
            [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["batch", classes])],
            [numpy_helper.from_array(weights, "w")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        pixels = rng.integers(0, 256, (2, size, size, 3), dtype=np.uint8)
        with tempfile.TemporaryDirectory(prefix="image-explainer-selftest-") as folder:
            path = Path(folder) / "selftest.onnx"
            save(model, str(path))
            classifier = load_classifier(ModelSpec(model=str(path), preprocess="unit"))
            got = classifier.predict(pixels)
        logits = (pixels / 255.0).transpose(0, 3, 1, 2).reshape(2, -1) @ weights
        expected = np.exp(logits - logits.max(1, keepdims=True))
        expected /= expected.sum(1, keepdims=True)
        if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-5):
            raise RuntimeError(f"ONNX probabilities {np.round(got, 4).tolist()} differ from numpy's "
                               f"{np.round(expected, 4).tolist()}")
        report.say(f"onnx: {size}x{size} model read by {classifier.runtime}, probabilities match numpy")

    def render():
        from PIL import Image

        from engine.render import save_class_png

        with tempfile.TemporaryDirectory(prefix="image-explainer-selftest-") as folder:
            path = Path(folder) / "selftest.png"
            save_class_png(path, state["explanations"], state["top"].index)
            with Image.open(path) as png:
                width, height = png.size
        if width < 100 or height < 100:
            raise RuntimeError(f"rendered PNG is only {width}x{height}")
        report.say(f"render: PNG {width}x{height}")

    return [
        ("environment", environment),
        ("model loading", model),
        ("sample image", image),
        ("prediction", predict),
        ("inpainting", inpainting),
        ("SHAP", explain_with("shap")),
        ("LIME", explain_with("lime")),
        ("rendering", render),
        ("ONNX model", onnx_model),
    ]
