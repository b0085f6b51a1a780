"""A user's own Keras model: .keras, legacy .h5 and SavedModel folders, labels, grey input,
and the model summary rows."""

import json

import numpy as np
import pytest
from known_models import build_region_model, region_image

from engine.errors import ModelError
from engine.models import ModelSpec, load_classifier


def _logits_region_model():
    """The region model without its softmax: same decision, raw scores out."""
    import keras

    source = build_region_model()
    inputs = keras.Input((64, 64, 3))
    dense = keras.layers.Dense(2, name="decision")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)), name="region_logits")
    dense.set_weights(source.get_layer("decision").get_weights())
    return model


def _grey_model(size=32):
    """Grey input: class 0 when the top-left quarter is bright."""
    import keras

    inputs = keras.Input((size, size, 1))
    dense = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    weights = np.zeros((size, size, 1, 2), np.float32)
    half = size // 2
    weights[:half, :half, 0, 0] = 12.0 / (255.0 * half * half)
    dense.set_weights([weights.reshape(-1, 2), np.array([0.0, 6.0], np.float32)])
    return model


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user_models")
    model = build_region_model()
    model.save(folder / "region.keras")
    model.save(folder / "region.h5")
    model.export(str(folder / "region_savedmodel"), verbose=False)
    _logits_region_model().export(str(folder / "logits_savedmodel"), verbose=False)
    return folder, model


@pytest.mark.parametrize("name", ["region.keras", "region.h5", "region_savedmodel"])
def test_every_format_loads_and_predicts_like_the_original(saved_models, name):
    folder, original = saved_models
    trust = name.endswith("savedmodel")
    classifier = load_classifier(ModelSpec(model=str(folder / name), trust=trust))
    assert classifier.input_size == (64, 64) and classifier.channels == 3 and classifier.num_classes == 2
    assert classifier.outputs_probabilities
    image = region_image()
    expected = np.asarray(original(image[None].astype(np.float32)))
    # float32 sums in another order (the OpenVINO forward pass on CPU) move the 5th decimal
    np.testing.assert_allclose(classifier.predict(image), expected, atol=5e-5)
    assert classifier.predict(image)[0, 0] > 0.8


def test_saved_model_is_refused_without_trust(saved_models):
    folder, _ = saved_models
    with pytest.raises(ModelError) as caught:
        load_classifier(ModelSpec(model=str(folder / "region_savedmodel")))
    message = str(caught.value)
    assert "SavedModel" in message and "--trust-model" in message and "\n" not in message


def test_saved_model_with_logits_gets_a_softmax(saved_models):
    folder, _ = saved_models
    classifier = load_classifier(ModelSpec(model=str(folder / "logits_savedmodel"), trust=True))
    assert not classifier.outputs_probabilities
    probabilities = classifier.predict(region_image())
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5) and probabilities[0, 0] > 0.8


def test_folder_that_is_not_a_saved_model(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(ModelError, match="not a TensorFlow SavedModel"):
        load_classifier(ModelSpec(model=str(tmp_path / "photos"), trust=True))


def test_saved_model_must_take_one_image_and_give_class_scores(tmp_path):
    import keras

    vector = keras.Input((10,))
    keras.Model(vector, keras.layers.Dense(2)(vector)).export(str(tmp_path / "tabular"), verbose=False)
    with pytest.raises(ModelError, match="expected an image input"):
        load_classifier(ModelSpec(model=str(tmp_path / "tabular"), trust=True))
    image = keras.Input((8, 8, 3))
    keras.Model(image, keras.layers.Conv2D(2, 3)(image)).export(str(tmp_path / "segmenter"), verbose=False)
    with pytest.raises(ModelError, match="one output of class scores"):
        load_classifier(ModelSpec(model=str(tmp_path / "segmenter"), trust=True))


@pytest.mark.parametrize("name", ["region.keras", "region_savedmodel"])
@pytest.mark.parametrize("labels_file, content", [
    ("labels.txt", "bright\ndark\n"),
    ("labels.json", json.dumps(["bright", "dark"])),
    ("labels.json", json.dumps({"1": "dark", "0": "bright"})),
])
def test_labels_in_every_format_for_every_model_kind(saved_models, tmp_path, name, labels_file, content):
    folder, _ = saved_models
    path = tmp_path / labels_file
    path.write_text(content)
    trust = name.endswith("savedmodel")
    classifier = load_classifier(ModelSpec(model=str(folder / name), labels=str(path), trust=trust))
    assert classifier.class_names == ["bright", "dark"]
    path.write_text("a\nb\nc\n" if labels_file.endswith(".txt") else json.dumps(["a", "b", "c"]))
    with pytest.raises(ModelError, match="3 labels, but the model has 2 classes"):
        load_classifier(ModelSpec(model=str(folder / name), labels=str(path), trust=trust))


def test_json_labels_with_a_gap_are_refused(tmp_path):
    from engine.models import read_labels

    (tmp_path / "gap.json").write_text(json.dumps({"0": "a", "2": "c"}))
    with pytest.raises(ModelError, match="without gaps"):
        read_labels(tmp_path / "gap.json")


def test_labels_json_beside_the_model_and_inside_a_saved_model(tmp_path):
    build_region_model().save(tmp_path / "m.keras")
    (tmp_path / "labels.json").write_text(json.dumps(["on", "off"]))
    assert load_classifier(ModelSpec(model=str(tmp_path / "m.keras"))).class_names == ["on", "off"]
    build_region_model().export(str(tmp_path / "sm"), verbose=False)
    (tmp_path / "sm" / "labels.txt").write_text("inside\nfolder\n")
    assert load_classifier(ModelSpec(model=str(tmp_path / "sm"), trust=True)).class_names == ["inside", "folder"]


def test_grey_model_takes_rgb_images(tmp_path):
    _grey_model().save(tmp_path / "grey.keras")
    classifier = load_classifier(ModelSpec(model=str(tmp_path / "grey.keras")))
    assert classifier.channels == 1 and classifier.input_size == (32, 32)
    bright = np.zeros((32, 32, 3), np.uint8)
    bright[:16, :16] = (250, 240, 230)
    dark = np.zeros((32, 32, 3), np.uint8)
    probabilities = classifier.predict(np.stack([bright, dark]))
    assert probabilities.shape == (2, 2)
    assert probabilities[0, 0] > 0.9 and probabilities[1, 0] < 0.1
    with pytest.raises(ModelError, match="caffe preprocessing needs a 3-channel model"):
        load_classifier(ModelSpec(model=str(tmp_path / "grey.keras"), preprocess="caffe"))


def test_four_channel_model_is_refused(tmp_path):
    import keras

    inputs = keras.Input((8, 8, 4))
    keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs))).save(tmp_path / "rgba.keras")
    with pytest.raises(ModelError, match="1 \\(grey\\) or 3 \\(RGB\\) input channels, got 4"):
        load_classifier(ModelSpec(model=str(tmp_path / "rgba.keras")))


def _small_cnn():
    import keras

    inputs = keras.Input((32, 32, 3), name="pixels")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="norm")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="scores")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def test_summary_rows_and_totals(tmp_path):
    model = _small_cnn()
    model.save(tmp_path / "cnn.keras")
    classifier = load_classifier(ModelSpec(model=str(tmp_path / "cnn.keras")))
    rows = classifier.summary()
    layers, total = rows[:-1], rows[-1]
    assert [r["name"] for r in layers] == ["pixels", "conv", "norm", "pool", "scores"]
    assert [r["type"] for r in layers] == ["InputLayer", "Conv2D", "BatchNormalization",
                                           "GlobalAveragePooling2D", "Dense"]
    assert [r["output_shape"] for r in layers] == ["(None, 32, 32, 3)", "(None, 30, 30, 4)",
                                                   "(None, 30, 30, 4)", "(None, 4)", "(None, 3)"]
    assert [r["params"] for r in layers] == [0, 3 * 3 * 3 * 4 + 4, 4 * 4, 0, 4 * 3 + 3]
    assert not any(r["is_total"] for r in layers) and total["is_total"]
    assert total["params"] == model.count_params() == sum(r["params"] for r in layers)
    assert total["non_trainable_params"] == 8  # BatchNorm's moving mean and variance
    assert total["trainable_params"] + total["non_trainable_params"] == total["params"]
    assert all(set(r) == set(total) for r in rows)


def test_saved_model_summary_counts_the_same_parameters(saved_models):
    folder, original = saved_models
    classifier = load_classifier(ModelSpec(model=str(folder / "region_savedmodel"), trust=True))
    rows = classifier.summary()
    assert rows[-1]["is_total"] and rows[-1]["params"] == original.count_params()
    assert any(r["type"] == "TFSMLayer" for r in rows)
