"""Loading classifiers: user Keras files, labels, preprocessing, safe mode, ResNet-50 weights."""

import json
import os
import re

import numpy as np
import pytest
from known_models import build_region_model, region_image

from engine.errors import ModelError, WeightsMissingError
from engine.models import ModelSpec, load_classifier, read_labels
from engine.preprocess import preprocess


@pytest.fixture(scope="module")
def region_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "region.keras"
    build_region_model().save(path)
    return path


def test_user_model_loads_with_its_shape_and_default_names(region_file):
    classifier = load_classifier(ModelSpec(model=str(region_file)))
    assert classifier.input_size == (64, 64) and classifier.num_classes == 2
    assert classifier.class_names == ["class 0", "class 1"]
    assert classifier.preprocess_mode == "none" and not classifier.untrained
    probabilities = classifier.predict(region_image())
    assert probabilities.shape == (1, 2) and probabilities[0, 0] > 0.8


def test_labels_text_json_list_and_dict(tmp_path):
    (tmp_path / "a.txt").write_text("cat\ndog\n\n")  # trailing blank lines end a file
    (tmp_path / "b.json").write_text(json.dumps(["cat", "dog"]))
    (tmp_path / "c.json").write_text(json.dumps({"1": "dog", "0": "cat"}))
    for name in ("a.txt", "b.json", "c.json"):
        assert read_labels(tmp_path / name, 2) == ["cat", "dog"]
    with pytest.raises(ModelError, match="3 labels, but the model has 2 classes"):
        (tmp_path / "d.txt").write_text("a\nb\nc\n")
        read_labels(tmp_path / "d.txt", 2)
    (tmp_path / "e.json").write_text("{broken")
    with pytest.raises(ModelError, match="invalid JSON"):
        read_labels(tmp_path / "e.json")
    with pytest.raises(ModelError, match="not found"):
        read_labels(tmp_path / "missing.txt")


@pytest.mark.parametrize("name, text, message", [
    ("blank.txt", "cat\n\ndog\n", "line 2 is blank"),
    ("twice.txt", "cat\ndog\ncat\n", "duplicate label 'cat' (classes 0 and 2)"),
    ("leading_zero.json", json.dumps({"0": "cat", "01": "dog"}), "found '01'"),
    ("not_a_name.json", json.dumps(["cat", True]), "label 1 is true, not a name in quotes"),
    ("number.json", json.dumps({"0": "cat", "1": 7}), "label 1 is 7"),
    ("twice.json", json.dumps(["cat", "cat"]), "duplicate label"),
    ("empty.txt", "\n", "holds no names"),
])
def test_labels_that_would_mislabel_results_are_refused(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(ModelError, match=re.escape(message)):
        read_labels(tmp_path / name)


def test_labels_from_a_fifo_are_refused_without_opening(tmp_path):
    os.mkfifo(tmp_path / "labels.txt")
    with pytest.raises(ModelError, match=re.escape("labels.txt: not a regular file (a named pipe (FIFO))")):
        read_labels(tmp_path / "labels.txt")


def test_labels_found_beside_the_model(region_file):
    (region_file.parent / "labels.txt").write_text("bright\ndark\n")
    try:
        assert load_classifier(ModelSpec(model=str(region_file))).class_names == ["bright", "dark"]
    finally:
        (region_file.parent / "labels.txt").unlink()


def test_preprocess_modes():
    pixels = np.array([[[[0, 128, 255]]]], np.uint8)
    np.testing.assert_allclose(preprocess(pixels, "none"), [[[[0, 128, 255]]]])
    np.testing.assert_allclose(preprocess(pixels, "unit"), [[[[0, 128 / 255, 1]]]])
    np.testing.assert_allclose(preprocess(pixels, "tf"), [[[[-1, 128 / 127.5 - 1, 1]]]], atol=1e-6)
    np.testing.assert_allclose(preprocess(pixels, "caffe"), [[[[255 - 103.939, 128 - 116.779, 0 - 123.68]]]],
                               rtol=1e-5)
    assert pixels[0, 0, 0, 0] == 0  # never in place
    # torchvision's Normalize on ToTensor's 0-1 scale, written out by hand
    torch_expected = [[[[(0 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (1 - 0.406) / 0.225]]]]
    np.testing.assert_allclose(preprocess(pixels, "torch"), torch_expected, rtol=1e-5)


def test_preprocess_changes_what_the_model_sees(region_file):
    as_is = load_classifier(ModelSpec(model=str(region_file)))
    unit = load_classifier(ModelSpec(model=str(region_file), preprocess="unit"))
    image = region_image()
    # /255 makes the region's brightness tiny, so the model now says "dark region".
    assert as_is.predict(image)[0, 0] > 0.8 and unit.predict(image)[0, 0] < 0.5


def _lambda_model(path):
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    keras.Model(inputs, outputs).save(path)
    return path


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_code_carrying_model_refused_unless_trusted(tmp_path, suffix):
    path = _lambda_model(tmp_path / f"lambda{suffix}")
    with pytest.raises(ModelError, match="Lambda layer.*--trust-model"):
        load_classifier(ModelSpec(model=str(path)))
    if suffix == ".keras":
        trusted = load_classifier(ModelSpec(model=str(path), trust=True))
        assert trusted.predict(np.zeros((1, 8, 8, 3), np.uint8)).shape == (1, 2)


def test_wrong_model_files(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_classifier(ModelSpec(model=str(tmp_path / "nope.keras")))
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="junk.keras"):
        load_classifier(ModelSpec(model=str(tmp_path / "junk.keras")))
    (tmp_path / "model.pt").write_bytes(b"x")
    with pytest.raises(ModelError, match="not a model file the app opens"):
        load_classifier(ModelSpec(model=str(tmp_path / "model.pt")))


def test_missing_resnet_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("IMAGE_EXPLAINER_WEIGHTS", raising=False)
    monkeypatch.setattr("engine.weights.bundled_weights_path", lambda: tmp_path / "absent.h5")
    with pytest.raises(WeightsMissingError) as caught:
        load_classifier(ModelSpec())
    assert caught.value.filename == "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
    assert str(tmp_path) in str(caught.value) and "\n" not in str(caught.value)


def test_wrong_weights_file_is_a_clear_error(tmp_path):
    bogus = tmp_path / "weights.h5"
    bogus.write_bytes(b"definitely not hdf5")
    with pytest.raises(ModelError, match="weights.h5 does not hold ResNet-50 ImageNet weights "
                                         r"\(it is not a Keras weights file\)") as caught:
        load_classifier(ModelSpec(weights=str(bogus)))
    assert "resnet50_weights_tf_dim_ordering_tf_kernels.h5" in str(caught.value)
    assert caught.value.detail and caught.value.detail not in str(caught.value)  # Keras's words kept apart


def test_weights_of_another_network_say_the_layers_do_not_match(tmp_path):
    import keras

    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = tmp_path / "other.weights.h5"
    other.save_weights(path)
    with pytest.raises(ModelError, match=r"other.weights.h5 does not hold ResNet-50 ImageNet weights "
                                         r"\(its layers do not match\)"):
        load_classifier(ModelSpec(weights=str(path)))


def test_untrained_resnet_says_so(untrained_resnet):
    assert untrained_resnet.untrained and "untrained" in untrained_resnet.label
    assert untrained_resnet.input_size == (224, 224) and untrained_resnet.num_classes == 1000
    assert untrained_resnet.class_names[281] == "tabby cat"


def test_jax_forward_agrees_with_tensorflow(tmp_path):
    """Same weights, two backends, same probabilities (runs where JAX is installed)."""
    pytest.importorskip("jax")
    import subprocess
    import sys

    model_path = tmp_path / "region.keras"
    build_region_model().save(model_path)
    np.save(tmp_path / "x.npy", region_image()[None])
    script = (
        "import sys, numpy as np; sys.path.insert(0, '.');"
        "from engine.models import ModelSpec, load_classifier;"
        f"c = load_classifier(ModelSpec(model={str(model_path)!r}));"
        f"np.save({str(tmp_path)!r} + '/' + sys.argv[1] + '.npy', c.predict(np.load({str(tmp_path / 'x.npy')!r})))"
    )
    for backend in ("tensorflow", "jax"):
        subprocess.run([sys.executable, "-c", script, backend], check=True,
                       env={**__import__("os").environ, "KERAS_BACKEND": backend})
    np.testing.assert_allclose(np.load(tmp_path / "jax.npy"), np.load(tmp_path / "tensorflow.npy"), atol=1e-5)


@pytest.mark.parametrize("mode", ["none", "unit", "tf", "caffe", "torch"])
def test_compiled_preprocessing_matches_the_reference(mode):
    """Preprocessing runs inside the compiled pass; it must equal the numpy definition."""
    from engine.backend import import_keras
    from engine.models import Classifier

    keras = import_keras()
    inputs = keras.Input((4, 4, 3))
    identity = keras.Model(inputs, keras.layers.Reshape((48,))(inputs))
    pixels = np.random.default_rng(0).integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    expected = preprocess(pixels, mode).reshape(5, 48)
    for batch in (pixels, pixels.astype(np.float32)):
        classifier = Classifier(identity, "identity", [str(i) for i in range(48)], mode,
                                outputs_probabilities=True)
        np.testing.assert_allclose(classifier.predict(batch), expected, rtol=1e-6, atol=1e-4)
