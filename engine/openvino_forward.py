"""The same network on OpenVINO: a faster CPU forward pass, still float32 throughout.

With the TensorFlow backend on a CPU, OpenVINO runs the same Keras model (preprocessing
included) faster than TensorFlow does (``bench/README.md``). Nothing about the numbers
changes on purpose: inference precision is pinned to f32 (OpenVINO would otherwise pick
bf16 on CPUs that have it) and weights are saved uncompressed.

Converting ResNet-50 takes seconds, so the converted network is cached on disk, keyed by a
hash of the model's architecture, weights and preprocessing. Every load checks it against
Keras on a few probe images; if they disagree, or anything fails, the caller keeps Keras: a
conversion problem can cost speed but never change a result.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from pathlib import Path

import numpy as np

from engine.errors import first_line

CACHE_FORMAT = "1"  # bump when what is cached (or how it is built) changes
# Largest |OpenVINO - Keras| on the probe batch, relative to the output's scale. Float32
# arithmetic in another order differs by ~1e-5 here (as TensorFlow and JAX do).
TOLERANCE = 1e-3
# bfloat16 keeps 8 bits of mantissa: the check only catches a broken network, not rounding.
BFLOAT16_TOLERANCE = 0.1
MAX_BATCH = 64
KEEP_CACHED = 4  # converted networks kept on disk (ResNet-50 is ~100 MB each), newest first


class OpenVinoUnavailable(Exception):
    """OpenVINO cannot run this model here; the message says why, in one line."""


def cache_dir() -> Path:
    """Where converted networks are kept: the app's cache folder (see ``user_cache_dir``)."""
    from engine.runtime import user_cache_dir

    return user_cache_dir() / "openvino"


def openvino_forward(model, preprocess_mode: str, folder: Path | None = None,
                     precision: str = "float32"):
    """``f(pixels (N, H, W, C)) -> float32 (N, classes)`` on OpenVINO, checked against the
    Keras model on probe images. ``precision="bfloat16"`` is the labelled fast choice.
    Raises ``OpenVinoUnavailable``."""
    ov = _import_openvino()
    approximate = precision == "bfloat16"
    if approximate and not cpu_has_bfloat16():
        raise OpenVinoUnavailable("this CPU has no bfloat16 instructions")
    folder = cache_dir() if folder is None else folder
    key = model_key(model, preprocess_mode, ov.get_version())
    network = _cached_network(ov, model, preprocess_mode, folder / key)
    try:
        compiled = ov.Core().compile_model(network, "CPU", {
            "INFERENCE_PRECISION_HINT": "bf16" if approximate else "f32",
            "PERFORMANCE_HINT": "LATENCY",  # one request, every core: what batched calls want
        })
    except Exception as exc:  # noqa: BLE001 - any failure means "use Keras"
        raise OpenVinoUnavailable(f"could not compile the model ({first_line(exc)})") from exc
    forward = _Forward(compiled)
    _check_against(forward, model, preprocess_mode, BFLOAT16_TOLERANCE if approximate else TOLERANCE)
    return forward


class _Forward:
    """One infer request behind a lock: the engine calls it from one thread at a time, but a
    request must never be shared by two calls at once."""

    def __init__(self, compiled):
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)  # preprocessing runs inside, on floats
        outputs = []
        with self._lock:
            for i in range(0, len(x), MAX_BATCH):
                self._request.infer({0: x[i : i + MAX_BATCH]})
                outputs.append(self._request.get_output_tensor(0).data.astype(np.float32, copy=True))
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)


def cpu_has_bfloat16() -> bool:
    """Whether OpenVINO can run bfloat16 natively on this CPU (False without OpenVINO)."""
    try:
        ov = _import_openvino()
    except OpenVinoUnavailable:
        return False
    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def model_key(model, preprocess_mode: str, version: str) -> str:
    """A hash of everything the converted network depends on."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (CACHE_FORMAT, version, preprocess_mode, repr(model.input_shape), _architecture(model)):
        digest.update(part.encode())
        digest.update(b"\0")
    for weight in model.weights:
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()


def _architecture(model) -> str:
    try:
        return model.to_json()
    except Exception:  # noqa: BLE001 - e.g. a wrapped SavedModel: describe it by its layers
        return repr([(layer.name, type(layer).__name__) for layer in model.layers])


def _cached_network(ov, model, preprocess_mode: str, stem: Path):
    xml, weights = stem.with_suffix(".xml"), stem.with_suffix(".bin")
    if xml.is_file() and weights.is_file():
        try:
            network = ov.Core().read_model(str(xml))
            os.utime(xml)  # recently used: kept when the cache is pruned
            return network
        except Exception:  # noqa: BLE001 - a damaged cache entry is rebuilt below
            pass
    network = _convert(ov, model, preprocess_mode)
    _save(ov, network, xml, weights)
    _prune(xml.parent)
    return network


def _prune(folder: Path) -> None:
    """Keep the most recently used entries: an untrained network has new weights (so a new
    key) every time it is built, and each entry is as large as the model's weights."""
    try:
        entries = sorted((p for p in folder.glob("*.xml") if ".partial" not in p.name),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP_CACHED:]:
            old.with_suffix(".bin").unlink(missing_ok=True)
            old.unlink(missing_ok=True)
    except OSError:
        pass


def _convert(ov, model, preprocess_mode: str):
    import tensorflow as tf

    from engine.preprocess import preprocess_ops

    signature = [tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)]
    function = tf.function(lambda x: model(preprocess_ops(x, preprocess_mode), training=False),
                           input_signature=signature)
    try:
        return ov.convert_model(function.get_concrete_function())
    except Exception as exc:  # noqa: BLE001
        raise OpenVinoUnavailable(f"could not convert the model ({first_line(exc)})") from exc


def _save(ov, network, xml: Path, weights: Path) -> None:
    """Write the cache entry so that a reader never sees half of it; a cache that cannot be
    written only means converting again next time."""
    try:
        xml.parent.mkdir(parents=True, exist_ok=True)
        partial = xml.with_name(f"{xml.stem}.{os.getpid()}.partial.xml")
        ov.save_model(network, str(partial), compress_to_fp16=False)  # keep float32 weights
        os.replace(partial.with_suffix(".bin"), weights)
        os.replace(partial, xml)
    except Exception:  # noqa: BLE001
        for leftover in xml.parent.glob(f"{xml.stem}.{os.getpid()}.partial.*"):
            leftover.unlink(missing_ok=True)


def _check_against(forward, model, preprocess_mode: str, tolerance: float) -> None:
    from engine.preprocess import preprocess_ops

    probes = _probe_images(model.input_shape[1:])
    # Eagerly: tracing Keras' own compiled pass would cost seconds that nothing else needs.
    expected = np.asarray(model(preprocess_ops(probes.astype(np.float32), preprocess_mode),
                                training=False), np.float32)
    try:
        got = forward(probes)
    except Exception as exc:  # noqa: BLE001
        raise OpenVinoUnavailable(f"the converted model failed to run ({first_line(exc)})") from exc
    scale = max(1.0, float(np.abs(expected).max()))
    difference = float(np.abs(got - expected).max()) if got.shape == expected.shape else np.inf
    if not difference <= tolerance * scale:
        raise OpenVinoUnavailable(f"the converted model disagrees with Keras (max difference "
                                  f"{difference:.2g})")


def _probe_images(shape) -> np.ndarray:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (2, *shape), dtype=np.uint8)
    ramp = np.broadcast_to(np.linspace(0, 255, shape[1], dtype=np.float32)[None, :, None],
                           shape).astype(np.uint8)
    return np.concatenate([noise, ramp[None]])


def _import_openvino():
    # Model conversion reports usage over the network unless its telemetry package is
    # missing; the app sends nothing anywhere, so that package is kept out of reach. Import
    # OpenVINO only through here (tests too): a plain "import openvino" first would load it.
    sys.modules.setdefault("openvino_telemetry", None)
    try:
        import openvino as ov
    except ImportError as exc:
        raise OpenVinoUnavailable("OpenVINO is not installed") from exc
    return ov
