"""Background-set SHAP for a user's own Keras model: DeepExplainer or GradientExplainer.

The seed recipe: ``shap.DeepExplainer(model, background)`` (or ``GradientExplainer``) with a
few dozen typical images as the background, then ``shap_values`` for the images to explain.

Two things the recipe leaves to the user are done here:
- The classifier preprocesses inside its compiled forward pass, so shap is handed a small
  wrapper model whose input is raw 0-255 RGB pixels: RGB -> grey (for 1-channel models) ->
  preprocessing -> the user's model -> only the target classes. Attributions are therefore
  per raw pixel, like every other method here, and no class outside the targets costs time.
- shap has no progress or cancel hooks; both explainers call their own ``run`` once per
  batch (Gradient: per batch of ``samples``; Deep: per class and background chunk), so that
  call is wrapped on the explainer instance to count rows and check the cancel token.

DeepExplainer (DeepLIFT rescale rules) is exact for what it supports but, with Keras 3 and
TensorFlow >= 2.16, rewrites gradients through a private registry and silently mishandles some
graphs (a softmax head, for one). Its values are therefore checked for additivity (they must
sum to f(x) - E[f(background)]); in "auto" mode any failure falls back to GradientExplainer
(expected gradients), and ``Explanation.params["explainer"]`` says which one ran.
"""

from __future__ import annotations

import logging
import time
import warnings
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.errors import Cancelled, EngineError, ImageError, ModelError
from engine.explain.common import checked_inputs, make_explanation
from engine.jobs import CancelToken, Explanation, ProgressCounter, ProgressFn, no_progress

EXPLAINERS = ("auto", "deep", "gradient")
DEEP, GRADIENT = "DeepExplainer", "GradientExplainer"

# Classifiers DeepExplainer already failed on (-> why): "auto" does not retry them for every
# image of a batch; the failure is a property of the graph, not of one image.
_deep_failures: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass
class ShapGradientParams:
    background: str | None = None  # a folder of typical images (searched recursively)
    background_images: np.ndarray | None = field(default=None, repr=False)  # (N, H, W, 3) uint8
    max_background: int = 100
    samples: int = 200  # GradientExplainer nsamples per class
    batch_size: int = 50
    seed: int = 0
    explainer: str = "auto"  # auto | deep | gradient

    def validate(self) -> None:
        if self.background is None and self.background_images is None:
            raise ValueError("background-set SHAP needs background images: choose a folder of typical "
                             "images (--background FOLDER)")
        if self.explainer not in EXPLAINERS:
            raise ValueError(f"unknown SHAP explainer {self.explainer!r}: use {', '.join(EXPLAINERS)}")
        if self.max_background < 1:
            raise ValueError("background size must be at least 1")
        if self.samples < 1:
            raise ValueError("SHAP samples must be at least 1")
        if self.batch_size < 1:
            raise ValueError("SHAP batch size must be at least 1")
        if self.background_images is not None:
            images = np.asarray(self.background_images)
            if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8 or not len(images):
                raise ValueError("background images must be a non-empty (N, H, W, 3) uint8 array")

    def describe(self) -> dict:
        """The JSON-safe part (no pixel arrays), for results and exports."""
        return {"background": self.background if self.background is not None else "(images given)",
                "max_background": self.max_background, "samples": self.samples,
                "batch_size": self.batch_size, "seed": self.seed,
                "explainer_requested": self.explainer}


def load_background(folder: str | Path, size: tuple[int, int], max_images: int = 100, seed: int = 0,
                    progress: ProgressFn = no_progress,
                    cancel: CancelToken | None = None) -> tuple[np.ndarray, list[str]]:
    """Up to ``max_images`` images from ``folder`` (and its sub-folders), resized to ``size``.

    When the folder holds more, a random subset (fixed by ``seed``) is taken. Unreadable files
    are skipped; their one-line errors come back as notes. At least one image must load.
    """
    from engine.images import fit_to_model, list_images, load_image

    folder = Path(folder)
    name = folder.name or str(folder)
    if not folder.is_dir():
        raise EngineError(f"{name}: background folder not found")
    files = list_images(folder, recursive=True)
    if not files:
        raise EngineError(f"{name}: no images in the background folder")
    if len(files) > max_images:
        files = [files[i] for i in np.random.default_rng(seed).permutation(len(files))]
    counter = ProgressCounter(progress, min(max_images, len(files)), "loading background")
    images, notes = [], []
    for path in files:
        if len(images) >= max_images:
            break
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            images.append(fit_to_model(load_image(path), size))
            counter.add(1)
        except ImageError as exc:
            notes.append(str(exc))
    if not images:
        raise EngineError(f"{name}: none of the {len(files)} background images could be read "
                          f"({notes[0] if notes else 'no images'})")
    counter.finish()
    return np.stack(images), notes


def explain(image: np.ndarray, classifier, targets, params: ShapGradientParams | None = None,
            progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> Explanation:
    from engine.backend import backend_name

    image, targets, params = checked_inputs(image, classifier, targets, params, ShapGradientParams)
    cancel = cancel or CancelToken()
    if backend_name() != "tensorflow":
        raise ModelError("background-set SHAP (Deep/Gradient explainer) needs the TensorFlow Keras backend")
    started = time.perf_counter()
    background, notes = _background(params, classifier, progress, cancel)
    loaded_s = time.perf_counter() - started

    model = _explainer_model(classifier, tuple(targets))
    x = image[None].astype(np.float32)
    data = background.astype(np.float32)
    n, k = len(data), len(targets)
    deep_rows = 2 * n * k + 2 * n + 2  # (input, reference) pairs per class, plus the additivity check
    gradient_rows = k * params.samples + 1
    counter = ProgressCounter(progress, deep_rows if params.explainer != "gradient" else gradient_rows,
                              "SHAP (background)")
    note = ""
    values = expected = None
    with _quiet():
        if params.explainer == "auto" and classifier in _deep_failures:
            note = f"{_deep_failures[classifier]} on an earlier image of this model; not retried"
            counter.total = counter.done + gradient_rows
        elif params.explainer in ("auto", "deep"):
            try:
                values, expected = _run_deep(model, x, data, params, counter, cancel)
                ran = DEEP
            except Cancelled:
                raise
            except Exception as exc:  # unsupported op, additivity failure, shap/Keras mismatch
                note = f"DeepExplainer failed ({_one_line(exc)})"
                _deep_failures[classifier] = note
                if params.explainer == "deep":
                    raise ModelError(f"{note}; use the gradient explainer (--explainer gradient)") from exc
                counter.total = counter.done + gradient_rows
        if values is None:
            values, expected = _run_gradient(model, x, data, params, counter, cancel)
            ran = GRADIENT
    counter.finish()
    maps = values.sum(axis=-1)  # per-pixel attribution, as shap.image_plot shows it
    described = {**params.describe(), "explainer": ran, "explainer_note": note,
                 "background_count": n, "background_skipped": notes,
                 "output": "probability" if classifier.outputs_probabilities else "logit"}
    result = make_explanation("shap-gradient", image, classifier, targets, maps, described,
                              time.perf_counter() - started, counter.done,
                              extras={"values": values.astype(np.float32),
                                      "expected_values": expected.astype(np.float32)})
    result.timings["background_s"] = loaded_s
    return result


def _background(params: ShapGradientParams, classifier, progress, cancel) -> tuple[np.ndarray, list[str]]:
    from engine.images import fit_to_model

    if params.background_images is None:
        return load_background(params.background, classifier.input_size, params.max_background,
                               params.seed, progress, cancel)
    images = np.asarray(params.background_images)
    if len(images) > params.max_background:
        chosen = np.random.default_rng(params.seed).permutation(len(images))[: params.max_background]
        images = images[np.sort(chosen)]
    if images.shape[1:3] != tuple(classifier.input_size):
        images = np.stack([fit_to_model(np.ascontiguousarray(i), classifier.input_size) for i in images])
    return images, []


def _run_deep(model, x, data, params, counter, cancel):
    """DeepExplainer, fed the background in chunks (its values are a mean over the background,
    so chunks weighted by their size give the same numbers with bounded memory), with the
    additivity check done per chunk so a bad graph is found after the first one."""
    import shap

    chunk = max(1, params.batch_size // 2)  # each chunk runs as (inputs + references) rows
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    explainer = shap.DeepExplainer(model, chunks[0])
    _guard_runs(explainer.explainer, counter, cancel)
    fx = _outputs(model, x, counter, cancel)[0]
    total = np.zeros((model.output_shape[1], *x.shape[1:]), np.float64)
    expected = np.zeros(model.output_shape[1], np.float64)
    for part in chunks:
        explainer.explainer.data = [part]
        raw = explainer.shap_values(x, check_additivity=False)
        values = np.moveaxis(np.asarray(raw, np.float64)[0], -1, 0)  # (K, H, W, C)
        reference = _outputs(model, part, counter, cancel).mean(axis=0)
        _check_additivity(values.sum(axis=(1, 2, 3)), fx - reference)
        total += values * len(part)
        expected += reference * len(part)
    return total / len(data), expected / len(data)


def _run_gradient(model, x, data, params, counter, cancel):
    """Expected gradients: ``samples`` points between the image and random background images."""
    import shap

    explainer = shap.GradientExplainer(model, data, batch_size=params.batch_size)
    _guard_runs(explainer.explainer, counter, cancel)
    state = np.random.get_state()  # shap reseeds numpy's global generator; leave it as found
    try:
        raw = explainer.shap_values(x, nsamples=params.samples, rseed=params.seed)
    finally:
        np.random.set_state(state)
    values = np.moveaxis(np.asarray(raw, np.float64)[0], -1, 0)  # (K, H, W, C)
    expected = np.zeros(model.output_shape[1], np.float64)
    for i in range(0, len(data), params.batch_size):
        expected += _outputs(model, data[i : i + params.batch_size], counter, cancel).sum(axis=0)
    return values, expected / len(data)


def _guard_runs(inner, counter: ProgressCounter, cancel: CancelToken) -> None:
    """Both shap explainers evaluate the model through ``inner.run(out, inputs, X)`` once per
    batch: check cancel before each and count its rows afterwards."""
    original = inner.run

    def run(out, model_inputs, X):
        cancel.raise_if_cancelled()
        result = original(out, model_inputs, X)
        counter.add(len(X[0]))
        return result

    inner.run = run


def _outputs(model, batch: np.ndarray, counter: ProgressCounter, cancel: CancelToken) -> np.ndarray:
    cancel.raise_if_cancelled()
    out = np.asarray(model(batch, training=False), np.float64)
    counter.add(len(batch))
    return out


def _check_additivity(got: np.ndarray, wanted: np.ndarray) -> None:
    # shap's own tolerance for TensorFlow is 0.01; a little more for large logits (float32 sums).
    tolerance = 0.01 + 0.01 * float(np.abs(wanted).max())
    off = float(np.abs(got - wanted).max())
    if not off <= tolerance:
        raise ArithmeticError(f"its values do not add up to the model output, off by {off:.3g}")


def _explainer_model(classifier, targets: tuple[int, ...]):
    """raw 0-255 RGB pixels -> (grey) -> preprocessing -> the user's model -> target scores."""
    from engine.backend import import_keras

    keras = import_keras()
    to_input, select = _layer_types()
    height, width = classifier.input_size
    pixels = keras.Input((height, width, 3), dtype="float32", name="pixels")
    prepared = to_input(classifier.preprocess_mode, classifier.channels == 1, name="preprocess")(pixels)
    scores = classifier.keras_model(prepared)
    binary = getattr(classifier, "head_kind", None) == "binary"
    chosen = select(list(targets), classifier.num_classes, binary, name="targets")(scores)
    return keras.Model(pixels, chosen, name="shap_wrapper")


@lru_cache(maxsize=1)
def _layer_types():
    """Two tiny layers (plain ops, no Lambda): built once, on first use, after Keras loads."""
    from engine.backend import import_keras
    from engine.preprocess import preprocess_ops

    keras = import_keras()
    ops = keras.ops

    class ToModelInput(keras.layers.Layer):
        """The classifier's own mapping from pixels to model input, in Keras ops."""

        def __init__(self, mode: str, grey: bool, **kwargs):
            super().__init__(**kwargs)
            self.mode, self.grey = mode, grey

        def call(self, x):
            if self.grey:  # the same weights Classifier.predict uses for RGB -> grey
                x = ops.sum(x * ops.convert_to_tensor(np.array([0.299, 0.587, 0.114], np.float32)),
                            axis=-1, keepdims=True)
            return preprocess_ops(x, self.mode)

        def compute_output_shape(self, shape):
            return (*shape[:-1], 1) if self.grey else shape

    class SelectOutputs(keras.layers.Layer):
        """Keeps only the target classes: a matmul with a fixed one-hot matrix (a linear op
        both explainers handle), so shap loops over K classes instead of all of them. A
        binary head's one output p becomes its two classes (1 − p, p) in the same affine op."""

        def __init__(self, targets: list[int], num_classes: int, binary: bool = False, **kwargs):
            super().__init__(**kwargs)
            pick = np.zeros((num_classes, len(targets)), np.float32)
            pick[targets, np.arange(len(targets))] = 1.0
            self.offset = np.zeros(len(targets), np.float32)
            if binary:  # [1 − p, p] = p @ [[−1, 1]] + [1, 0], then the targets of those
                self.offset = np.array([1.0, 0.0], np.float32) @ pick
                pick = np.array([[-1.0, 1.0]], np.float32) @ pick
            self.pick = pick

        def call(self, y):
            picked = ops.matmul(ops.cast(y, "float32"), ops.convert_to_tensor(self.pick))
            return picked + ops.convert_to_tensor(self.offset)

        def compute_output_shape(self, shape):
            return (shape[0], self.pick.shape[1])

    return ToModelInput, SelectOutputs


@contextmanager
def _quiet():
    """shap warns about TensorFlow versions and Keras about input structure on every call;
    TensorFlow logs retracing warnings. None of it is for the user."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 160:
        text = text[:157] + "…"
    return text or type(exc).__name__
