"""The OpenVINO forward pass: same numbers as Keras, cached, checked, and never a silent change.

It runs only with the TensorFlow backend on a CPU (the test environment); "auto" falls back
to Keras whenever OpenVINO cannot run the model or disagrees with it.
"""

import os
import sys

import numpy as np
import pytest

from engine import explain
from engine import openvino_forward as ovf
from engine.errors import ModelError
from engine.explain.lime_image import LimeParams
from engine.explain.shap_partition import ShapParams
from engine.models import Classifier


def region_classifier(runtime):
    from known_models import build_region_model

    return Classifier(build_region_model(), "region", ["bright region", "dark region"], "none",
                      runtime=runtime)


@pytest.fixture(scope="module")
def pair():
    """The same Keras model behind both runtimes."""
    fast = region_classifier("openvino")
    plain = Classifier(fast.keras_model, "region", fast.class_names, "none", runtime="keras")
    return fast, plain


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGE_EXPLAINER_CACHE", str(tmp_path))
    return tmp_path / "openvino"


def test_openvino_gives_the_keras_probabilities(pair, region_image):
    fast, plain = pair
    assert (fast.runtime, plain.runtime) == ("openvino", "keras")
    rng = np.random.default_rng(3)
    batch = np.concatenate([region_image[None], rng.integers(0, 256, (70, *region_image.shape), np.uint8)])
    np.testing.assert_allclose(fast.predict(batch), plain.predict(batch), atol=1e-5)
    # float32 pixels (faithfulness and IG feed them) too
    np.testing.assert_allclose(fast.predict(batch[:3].astype(np.float32) * 0.5),
                               plain.predict(batch[:3].astype(np.float32) * 0.5), atol=1e-5)


def test_explanations_match_across_runtimes(pair, region_image):
    fast, plain = pair
    shap_params = ShapParams(max_evals=120, batch_size=40)
    a = explain.run("shap", region_image, fast, [0, 1], shap_params)
    b = explain.run("shap", region_image, plain, [0, 1], shap_params)
    assert np.corrcoef(a.maps.ravel(), b.maps.ravel())[0, 1] > 0.9999
    lime_params = LimeParams(num_samples=120, seed=2, segmentation="slic",
                             segmentation_params={"n_segments": 30})
    a = explain.run("lime", region_image, fast, [0, 1], lime_params)
    b = explain.run("lime", region_image, plain, [0, 1], lime_params)
    np.testing.assert_array_equal(a.extras["segments"], b.extras["segments"])
    np.testing.assert_allclose(a.extras["segment_weights"], b.extras["segment_weights"], atol=1e-4)


def test_converted_network_is_cached_and_reused(cache, monkeypatch, region_image):
    first = region_classifier("openvino")
    assert len(list(cache.glob("*.xml"))) == 1 and len(list(cache.glob("*.bin"))) == 1

    def no_conversion(*args):
        raise AssertionError("converted again although the cache holds this model")

    monkeypatch.setattr(ovf, "_convert", no_conversion)
    again = Classifier(first.keras_model, "region", first.class_names, "none", runtime="openvino")
    assert again.runtime == "openvino"
    np.testing.assert_array_equal(again.predict(region_image), first.predict(region_image))


def test_a_damaged_cache_entry_is_rebuilt(cache, region_image):
    first = region_classifier("openvino")
    (xml,) = cache.glob("*.xml")
    xml.write_text("not a network")
    again = Classifier(first.keras_model, "region", first.class_names, "none", runtime="openvino")
    np.testing.assert_allclose(again.predict(region_image), first.predict(region_image), atol=1e-6)
    assert xml.read_text().startswith("<?xml")


def test_cache_keeps_only_the_newest_entries(cache, monkeypatch):
    from known_models import build_region_model

    monkeypatch.setattr(ovf, "KEEP_CACHED", 2)
    for sharpness in (4.0, 8.0, 16.0):  # other weights: another key each time
        Classifier(build_region_model(sharpness), "region", ["a", "b"], "none", runtime="openvino")
    assert len(list(cache.glob("*.xml"))) == 2
    assert len(list(cache.glob("*.bin"))) == 2
    assert not list(cache.glob("*partial*"))


def test_disagreement_falls_back_to_keras_or_refuses(cache, monkeypatch):
    real = ovf._Forward.__call__
    monkeypatch.setattr(ovf._Forward, "__call__", lambda self, x: real(self, x) + 0.1)
    auto = region_classifier("auto")
    assert auto.runtime == "keras"
    assert "disagrees with Keras" in auto.runtime_note
    with pytest.raises(ModelError, match="OpenVINO cannot run this model: .*disagrees"):
        region_classifier("openvino")


def test_missing_openvino_falls_back(monkeypatch, cache):
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if not installed
    auto = region_classifier("auto")
    assert (auto.runtime, auto.runtime_note) == ("keras", "OpenVINO not used: OpenVINO is not installed")


def test_conversion_sends_no_telemetry(tmp_path):
    # In a fresh interpreter (this one's imports depend on test order): after a conversion,
    # the telemetry package was never loaded, so conversion used its silent stub.
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    script = ("import sys; sys.path[:0] = [{root!r}, {tests!r}]\n"
              "from known_models import build_region_model\n"
              "from engine.models import Classifier\n"
              "c = Classifier(build_region_model(), 'region', ['a', 'b'], 'none', runtime='openvino')\n"
              "print(c.runtime, sys.modules.get('openvino_telemetry', 'absent'))\n"
              ).format(root=str(root), tests=str(root / "tests"))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300, env={**os.environ,
                                              "IMAGE_EXPLAINER_CACHE": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["openvino", "None"], result.stdout


def test_runtime_choices_are_checked(monkeypatch):
    from engine.backend import default_runtime

    monkeypatch.setenv("IMAGE_EXPLAINER_RUNTIME", "OpenVINO")
    assert default_runtime() == "openvino"
    monkeypatch.setenv("IMAGE_EXPLAINER_RUNTIME", "fastest")
    with pytest.raises(ValueError, match="use one of auto, keras, openvino"):
        default_runtime()
    with pytest.raises(ModelError, match="unknown runtime 'gpu'"):
        region_classifier("gpu")


def test_bfloat16_is_labelled_and_never_a_silent_fallback(pair, region_image):
    _, plain = pair
    with pytest.raises(ModelError, match="bfloat16 runs on the OpenVINO runtime only"):
        Classifier(plain.keras_model, "region", plain.class_names, "none", runtime="keras",
                   precision="bfloat16")
    if not ovf.cpu_has_bfloat16():
        with pytest.raises(ModelError, match="no bfloat16 instructions"):
            Classifier(plain.keras_model, "region", plain.class_names, "none", precision="bfloat16")
        return
    fast = Classifier(plain.keras_model, "region", plain.class_names, "none", precision="bfloat16")
    assert (fast.runtime, fast.precision) == ("openvino", "bfloat16")
    assert fast.label == "region (bfloat16)" and fast.describe()["precision"] == "bfloat16"
    explanation = explain.run("shap", region_image, fast, [0], ShapParams(max_evals=60, batch_size=30))
    assert explanation.model == "region (bfloat16)"  # the label travels into every result
    np.testing.assert_allclose(fast.predict(region_image), plain.predict(region_image), atol=0.02)
