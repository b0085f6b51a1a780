"""Does a map depend on the model? Cascading model-parameter randomisation (Adebayo et al. 2018).

The method is run again with the model's weighted layers re-initialised top-down: the head
first, then deeper and deeper, until the whole network is random. A map that still looks like
the original (Spearman rank correlation of |map| above 0.5 with every layer random) shows the
image, not what the model learnt: it is flagged "does not depend on the model".

The weights are changed in place and always put back (``try``/``finally``); nothing is saved.
During the run the forward pass reads the live Keras variables: a converted OpenVINO network
holds its own copy of the weights and would never see the random ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.jobs import CancelToken, ProgressFn, no_progress
from engine.metrics import forget_random_bands, rank_correlation

DEFAULT_GROUPS = 5  # cascade steps: the head alone, then four runs of deeper layers
DOES_NOT_DEPEND = 0.5  # Spearman of |map| with the network fully random above this: flagged
FLAG_TEXT = "does not depend on the model"


@dataclass(frozen=True)
class SanityParams:
    groups: int = DEFAULT_GROUPS
    seed: int = 0


def weighted_layers(model) -> list:
    """Layers that own weights, input to output, nested models opened up."""
    found = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            found.extend(weighted_layers(layer))
        elif layer.weights:
            found.append(layer)
    return found


def cascade_groups(model, groups: int = DEFAULT_GROUPS) -> list[list]:
    """Weighted layers top-down in ``groups`` steps: the last weighted layer (the head) alone
    first, the rest split into ``groups - 1`` runs of about equal length."""
    if groups < 1:
        raise ValueError("the sanity check needs at least 1 cascade step")
    layers = weighted_layers(model)[::-1]
    if not layers:
        raise ValueError("the model has no weighted layers to randomise")
    if groups == 1 or len(layers) == 1:
        return [layers]
    rest = layers[1:]
    runs = np.array_split(np.arange(len(rest)), min(groups - 1, len(rest)))
    return [[layers[0]]] + [[rest[i] for i in run] for run in runs]


def _initializer_for(layer, variable):
    """The layer's own initializer of ``variable`` (kernel, bias, gamma, moving_mean, ...)."""
    name = variable.path.rsplit("/", 1)[-1] if hasattr(variable, "path") else variable.name
    for attribute in (f"{name}_initializer", f"{name.replace('_kernel', '')}_initializer"):
        initializer = getattr(layer, attribute, None)
        if initializer is not None:
            return initializer
    return None


def reinitialise(layers: list, rng: np.random.Generator) -> None:
    """Fresh random weights for ``layers``, drawn by each layer's own initializers (seeded),
    He-normal for a weight without one."""
    from engine.backend import import_keras

    keras = import_keras()
    for layer in layers:
        for variable in layer.weights:
            shape, dtype = tuple(variable.shape), variable.dtype
            initializer = _initializer_for(layer, variable)
            seed = int(rng.integers(2**31 - 1))
            if initializer is not None:
                config = initializer.get_config()
                if "seed" in config:
                    initializer = type(initializer).from_config({**config, "seed": seed})
                value = keras.ops.convert_to_numpy(initializer(shape, dtype=dtype))
            elif len(shape) >= 2:
                fan_in = int(np.prod(shape[:-1]))
                value = np.random.default_rng(seed).normal(0, np.sqrt(2 / fan_in), shape)
            else:
                value = np.zeros(shape)
            variable.assign(np.asarray(value, dtype=keras.backend.standardize_dtype(dtype)))


def map_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two |maps|, each scaled to [0, 1] by its own maximum (as Adebayo et al.)."""
    from skimage.metrics import structural_similarity

    a, b = (np.abs(np.asarray(m, np.float64)) for m in (a, b))
    a, b = (m / m.max() if m.max() > 0 else m for m in (a, b))
    return float(structural_similarity(a, b, data_range=1.0))


class _LiveWeights:
    """The classifier's forward pass on the live Keras variables for the duration. An
    OpenVINO network converted in this process may share memory with those variables, so
    afterwards (weights restored by then) it is built again, from its cache on disk, and
    checked against Keras before it is used."""

    def __init__(self, classifier):
        self.classifier = classifier

    def __enter__(self):
        from engine.backend import make_forward

        self.saved = self.classifier._forward
        self.converted = getattr(self.classifier, "runtime", "keras") != "keras"
        if self.converted:
            self.classifier._forward = make_forward(self.classifier.keras_model,
                                                    self.classifier.preprocess_mode)
        return self

    def __exit__(self, *exc):
        self.classifier._forward = self.saved
        if self.converted:
            from engine.backend import make_model_forward

            c = self.classifier
            c._forward, c.runtime, c.runtime_note = make_model_forward(
                c.keras_model, c.preprocess_mode, c.runtime, c.precision)
        return False


def sanity_check(image: np.ndarray, classifier, explanation, params=None,
                 sanity: SanityParams | None = None, progress: ProgressFn = no_progress,
                 cancel: CancelToken | None = None) -> dict:
    """Cascading randomisation of ``classifier`` for ``explanation``'s method and classes.

    Re-runs the method (with ``params``, its own defaults when None) once per cascade step;
    the method's own progress is counted into one total across the steps. Returns plain
    lists (JSON-ready) — ``layers`` (per step, the deepest layer random so far, top-down),
    ``groups`` (per step, every layer re-initialised in it), ``spearman`` and ``ssim`` (per
    step, one value per explained class in ``classes`` order), ``does_not_depend_on_model``
    (per class) — and ``maps`` (steps, K, H, W) float32, left out of the JSON.
    """
    from engine import explain

    sanity = sanity or SanityParams()
    cancel = cancel or CancelToken()
    model = classifier.keras_model
    steps = cascade_groups(model, sanity.groups)
    rng = np.random.default_rng(sanity.seed)
    original = np.asarray(explanation.maps)
    classes = [int(c) for c in explanation.classes]
    saved = [(v, np.array(v.numpy())) for group in steps for layer in group for v in layer.weights]
    maps, spearman, ssim = [], [], []
    planned = [0]

    def counted(step):
        def report(done, total, stage):
            planned[0] = max(planned[0], total)
            progress(step * planned[0] + min(done, total), len(steps) * planned[0],
                     f"Sanity check {step + 1}/{len(steps)}: {stage}")
        return report

    with _LiveWeights(classifier):
        try:
            for step, group in enumerate(steps):
                cancel.raise_if_cancelled()
                reinitialise(group, rng)
                result = explain.run(explanation.method, image, classifier, classes, params,
                                     progress=counted(step), cancel=cancel)
                maps.append(np.asarray(result.maps, np.float32))
                spearman.append([rank_correlation(np.abs(o), np.abs(m)) for o, m in zip(original, result.maps)])
                ssim.append([map_ssim(o, m) for o, m in zip(original, result.maps)])
        finally:
            for variable, value in saved:
                variable.assign(value)
            forget_random_bands(classifier)  # nothing is scored meanwhile; never keep a stale band
    if planned[0]:
        progress(len(steps) * planned[0], len(steps) * planned[0], "Sanity check")
    return {
        "method": explanation.method,
        "classes": classes,
        "layers": [group[-1].name for group in steps],
        "groups": [[layer.name for layer in group] for group in steps],
        "spearman": spearman,
        "ssim": ssim,
        "does_not_depend_on_model": [bool(v > DOES_NOT_DEPEND) for v in spearman[-1]],
        "seed": int(sanity.seed),
        "maps": np.stack(maps),
    }


def json_summary(result: dict) -> dict:
    """The plain (JSON-ready) part of a ``sanity_check`` result: everything but the maps."""
    return {k: v for k, v in result.items() if not isinstance(v, np.ndarray)}
