"""ONNX classifiers: layouts, batches, preprocessing, heads, labels, safety, explanations.

Predictions are checked against onnxruntime (another engine reading the same file) and a
plain numpy computation of the same network.
"""

import json

import numpy as np
import onnx_models
import pytest
from known_models import positive_share_in_region, region_image

from engine import explain
from engine.errors import ModelError
from engine.explain.lime_image import LimeParams
from engine.explain.shap_partition import ShapParams
from engine.heads import HeadKind
from engine.models import ModelSpec, load_classifier
from engine.preprocess import preprocess

TORCH_MEAN = np.array([0.485, 0.456, 0.406]) * 255
TORCH_STD = np.array([0.229, 0.224, 0.225]) * 255


def pixels(n=3, size=16, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def onnxruntime_probabilities(path, images, layout="NCHW", mode="none"):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = preprocess(images, mode)
    if layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    rows = [session.run(None, {"image": x[i:i + 1].astype(np.float32)})[0] for i in range(len(x))]
    return softmax(np.concatenate(rows).astype(np.float64))


@pytest.fixture(scope="module")
def nchw_file(tmp_path_factory):
    return onnx_models.save(onnx_models.conv_net(), tmp_path_factory.mktemp("onnx") / "conv.onnx")


def test_nchw_dynamic_batch_logits_match_onnxruntime_and_numpy(nchw_file):
    classifier = load_classifier(ModelSpec(model=str(nchw_file), preprocess="torch"))
    assert (classifier.layout, classifier.input_size, classifier.channels) == ("NCHW", (16, 16), 3)
    assert classifier.head_kind is HeadKind.LOGITS and classifier.num_classes == 5
    assert classifier.class_names == [f"class {i}" for i in range(5)]
    images = pixels(70)  # more than one OpenVINO batch of 64
    got = classifier.predict(images)
    assert got.shape == (70, 5) and got.dtype == np.float32
    np.testing.assert_allclose(got, onnxruntime_probabilities(nchw_file, images, mode="torch"), atol=1e-5)
    reference = softmax(onnx_models.conv_reference(images, TORCH_MEAN, TORCH_STD))
    np.testing.assert_allclose(got, reference, atol=1e-5)


def test_nhwc_model_is_read_in_its_own_layout(tmp_path):
    path = onnx_models.save(onnx_models.conv_net(layout="NHWC"), tmp_path / "nhwc.onnx")
    classifier = load_classifier(ModelSpec(model=str(path), preprocess="unit"))
    assert classifier.layout == "NHWC" and classifier.input_size == (16, 16)
    images = pixels(4)
    np.testing.assert_allclose(classifier.predict(images),
                               onnxruntime_probabilities(path, images, "NHWC", "unit"), atol=1e-5)
    np.testing.assert_allclose(classifier.predict(images),
                               softmax(onnx_models.conv_reference(images, 0.0, 255.0)), atol=1e-5)


@pytest.mark.parametrize("graph, batch", [({}, 64), ({"reshape_batch": True}, 64), ({"mixes_batch": True}, 1)],
                         ids=["flatten", "fixed-reshape", "batch-mixing"])
def test_static_batch_of_one_predicts_many_images(tmp_path, graph, batch):
    """A fixed batch of 1 is reshaped to a dynamic batch (OpenVINO adapts a fixed Reshape
    too), unless the reshaped graph answers a batch differently from one image at a time:
    then images go one at a time. The same numbers either way."""
    path = onnx_models.save(onnx_models.conv_net(batch=1, **graph), tmp_path / "one.onnx")
    classifier = load_classifier(ModelSpec(model=str(path)))
    images = pixels(5)
    np.testing.assert_allclose(classifier.predict(images), onnxruntime_probabilities(path, images), atol=1e-5)
    assert classifier._forward.batch == batch


@pytest.mark.parametrize("head, kind", [("Softmax", HeadKind.PROBABILITIES), ("Sigmoid", HeadKind.MULTILABEL)])
def test_probability_heads_are_not_softmaxed_again(tmp_path, head, kind):
    path = onnx_models.save(onnx_models.conv_net(head=head), tmp_path / "head.onnx")
    classifier = load_classifier(ModelSpec(model=str(path), preprocess="unit"))  # unsaturated sigmoids
    assert classifier.head_kind is kind
    logits = onnx_models.conv_reference(pixels(3), 0.0, 255.0)
    expected = softmax(logits) if head == "Softmax" else 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(classifier.predict(pixels(3)), expected, atol=1e-5)


def test_one_sigmoid_is_a_binary_model_with_two_classes(tmp_path):
    path = onnx_models.save(onnx_models.conv_net(classes=1, head="Sigmoid"), tmp_path / "binary.onnx")
    classifier = load_classifier(ModelSpec(model=str(path), preprocess="unit"))
    assert classifier.head_kind is HeadKind.BINARY and classifier.num_classes == 2
    p = 1 / (1 + np.exp(-onnx_models.conv_reference(pixels(2), 0.0, 255.0, classes=1)))
    np.testing.assert_allclose(classifier.predict(pixels(2)), np.hstack([1 - p, p]), atol=1e-5)


def test_ambiguous_layout_is_refused_until_given(tmp_path):
    path = onnx_models.save(onnx_models.conv_net(size=3), tmp_path / "tiny.onnx")  # [batch, 3, 3, 3]
    with pytest.raises(ModelError, match=r"cannot tell the layout .*--layout NCHW") as refused:
        load_classifier(ModelSpec(model=str(path)))
    assert "\n" not in str(refused.value)
    classifier = load_classifier(ModelSpec(model=str(path), layout="NCHW"))
    images = pixels(2, size=3)
    np.testing.assert_allclose(classifier.predict(images), onnxruntime_probabilities(path, images), atol=1e-5)


def test_labels_from_metadata_a_file_beside_or_the_command_line(tmp_path):
    names = ["cat", "dog", "fox", "owl", "eel"]
    path = onnx_models.save(onnx_models.conv_net(metadata={"class_names": ", ".join(names)}), tmp_path / "m.onnx")
    classifier = load_classifier(ModelSpec(model=str(path)))
    assert classifier.class_names == names and "metadata" in classifier.labels_source
    (tmp_path / "labels.txt").write_text("\n".join(n.upper() for n in names))
    assert load_classifier(ModelSpec(model=str(path))).class_names == [n.upper() for n in names]
    given = tmp_path / "given.json"
    given.write_text(json.dumps([f"n{i}" for i in range(5)]))
    assert load_classifier(ModelSpec(model=str(path), labels=str(given))).class_names[0] == "n0"
    short = onnx_models.save(onnx_models.conv_net(metadata={"class_names": '["a", "b"]'}), tmp_path / "x" / "s.onnx")
    with pytest.raises(ModelError, match="metadata 'class_names' has 2 names, but the model has 5"):
        load_classifier(ModelSpec(model=str(short)))


def test_summary_counts_ops_and_parameters(nchw_file):
    classifier = load_classifier(ModelSpec(model=str(nchw_file)))
    expected_params = sum(a.size for a in onnx_models.conv_weights())
    rows = {row["name"]: row for row in classifier.summary()}
    assert rows["Total"]["params"] == expected_params and rows["Total"]["is_total"]
    assert rows["Conv"]["params"] == 4 * 3 * 3 * 3 + 4 and rows["Gemm"]["params"] == 5 * 4 + 5
    assert {n: r["type"] for n, r in rows.items() if n != "Total"} == {
        "Conv": "1 node", "Relu": "1 node", "GlobalAveragePool": "1 node", "Flatten": "1 node", "Gemm": "1 node"}
    described = classifier.describe()["onnx"]
    assert described["opset"] == onnx_models.OPSET and described["parameters"] == expected_params
    assert described["input"]["shape"] == [None, 3, 16, 16] and described["output"]["shape"] == [None, 5]


@pytest.mark.parametrize("case, message", [
    ("truncated", "not a readable ONNX file"),
    ("not onnx", "not a"),
    ("two inputs", "expected one image input, the model has 2"),
    ("outside data", "refers to data outside the model's folder"),
    ("custom op", "custom operator com.example.ops::FastClassify"),
])
def test_bad_onnx_files_are_one_line(tmp_path, nchw_file, case, message):
    path = tmp_path / "bad.onnx"
    if case == "truncated":
        path.write_bytes(nchw_file.read_bytes()[:200])
    elif case == "not onnx":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    elif case == "two inputs":
        onnx_models.save(onnx_models.two_inputs(), path)
    elif case == "outside data":
        path = onnx_models.save_with_outside_data(onnx_models.conv_net(), tmp_path / "model")
        (tmp_path / "outside").mkdir()
        (tmp_path / "model" / "weights.bin").rename(tmp_path / "outside" / "weights.bin")
    else:
        onnx_models.save(onnx_models.custom_op(), path)
    with pytest.raises(ModelError, match=message) as refused:
        load_classifier(ModelSpec(model=str(path)))
    assert "\n" not in str(refused.value) and str(refused.value).startswith(path.name)


def test_external_data_inside_the_folder_loads(tmp_path):
    import onnx

    path = tmp_path / "external.onnx"
    onnx.save(onnx_models.conv_net(), str(path), save_as_external_data=True, location="weights.bin",
              size_threshold=0)
    classifier = load_classifier(ModelSpec(model=str(path)))
    np.testing.assert_allclose(classifier.predict(pixels(2)), softmax(onnx_models.conv_reference(pixels(2))),
                               atol=1e-5)


@pytest.fixture(scope="module")
def region_onnx(tmp_path_factory):
    path = onnx_models.save(onnx_models.region_net(), tmp_path_factory.mktemp("region") / "region.onnx")
    return load_classifier(ModelSpec(model=str(path)))


def test_region_model_reads_its_class_names_and_decides_by_the_region(region_onnx):
    assert region_onnx.class_names == ["bright region", "dark region"]
    assert region_onnx.head_kind is HeadKind.PROBABILITIES
    image = region_image()
    bright = image[8:28, 8:28].astype(np.float64).mean() / 255
    expected = softmax(np.array([[12 * bright, 6.0]]))
    np.testing.assert_allclose(region_onnx.predict(image), expected, atol=1e-5)


def test_shap_and_lime_point_at_the_decisive_region(region_onnx):
    image = region_image()
    shap = explain.run("shap", image, region_onnx, [0], ShapParams(max_evals=300, batch_size=50))
    assert positive_share_in_region(shap.maps[0]) > 0.5
    lime = explain.run("lime", image, region_onnx, [0], LimeParams(num_samples=300, seed=1))
    assert positive_share_in_region(lime.maps[0]) > 0.5
    assert shap.model == "region.onnx" and lime.class_names == ["bright region"]


@pytest.mark.parametrize("method", ["gradcam", "ig", "shap-gradient"])
def test_gradient_methods_are_refused_by_name(region_onnx, method):
    with pytest.raises(ModelError, match=f"^{method} needs gradients; ONNX models support shap and lime$"):
        explain.run(method, region_image(), region_onnx, [0])


def test_faithfulness_runs_on_predict_alone(region_onnx):
    from engine.metrics import faithfulness, faithfulness_evaluations

    image = region_image()
    result = explain.run("shap", image, region_onnx, [0], ShapParams(max_evals=100, batch_size=50))
    scores = faithfulness(image, region_onnx, result, steps=8)
    # Removing the decisive region first drops "bright region" faster than random orders do.
    assert scores["better_than_random"] == [True]
    assert scores["srg"][0] > scores["random_srg_mean"][0] + 2 * scores["random_srg_sd"][0]
    assert scores["model_evaluations"] == faithfulness_evaluations(1, steps=8)


def test_randomised_copy_changes_only_the_chosen_weights(nchw_file):
    import onnx
    import onnxruntime
    from onnx import numpy_helper

    classifier = load_classifier(ModelSpec(model=str(nchw_file)))
    assert classifier.initializer_names() == ["conv.weight", "conv.bias", "fc.weight", "fc.bias"]
    copy = classifier.randomised(["fc.weight"], seed=3)
    proto = onnx.load_from_string(copy._network_source)
    weights = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    original = dict(zip(["conv.weight", "conv.bias", "fc.weight", "fc.bias"], onnx_models.conv_weights()))
    assert np.array_equal(weights["conv.weight"], original["conv.weight"])
    assert not np.allclose(weights["fc.weight"], original["fc.weight"])
    session = onnxruntime.InferenceSession(copy._network_source, providers=["CPUExecutionProvider"])
    images = pixels(3)
    expected = softmax(session.run(None, {"image": images.transpose(0, 3, 1, 2).astype(np.float32)})[0])
    np.testing.assert_allclose(copy.predict(images), expected, atol=1e-5)
    assert not np.allclose(copy.predict(images), classifier.predict(images), atol=1e-3)
    assert copy.class_names == classifier.class_names and copy.layout == classifier.layout
    with pytest.raises(ModelError, match="no weight tensor named nope"):
        classifier.randomised(["nope"])


def test_options_that_do_not_apply_are_one_line(nchw_file, tmp_path):
    with pytest.raises(ModelError, match="^conv.onnx: ONNX models run on OpenVINO"):
        load_classifier(ModelSpec(model=str(nchw_file), runtime="keras"))
    with pytest.raises(ModelError, match="^--layout is for ONNX models"):
        load_classifier(ModelSpec(model=str(tmp_path / "model.keras"), layout="NCHW"))
    with pytest.raises(ModelError, match="has no 1 or 3 channels where NHWC puts them"):
        load_classifier(ModelSpec(model=str(nchw_file), layout="NHWC"))
    with pytest.raises(ModelError, match="torch preprocessing needs a 3-channel model"):
        grey = onnx_models.save(onnx_models.conv_net(channels=1), tmp_path / "grey.onnx")
        load_classifier(ModelSpec(model=str(grey), preprocess="torch"))


def test_grey_models_see_the_same_grey_as_keras_models(tmp_path):
    path = onnx_models.save(onnx_models.conv_net(channels=1), tmp_path / "grey.onnx")
    classifier = load_classifier(ModelSpec(model=str(path), preprocess="unit"))
    assert classifier.channels == 1
    images = pixels(2)
    grey = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(classifier.predict(images),
                               onnxruntime_probabilities(path, grey[..., None], mode="unit"), atol=1e-5)


def test_an_open_class_count_is_found_by_one_run(tmp_path):
    path = onnx_models.save(onnx_models.conv_net(classes=7, open_width=True), tmp_path / "open.onnx")
    classifier = load_classifier(ModelSpec(model=str(path)))
    assert classifier.graph.output_shape == [None, None] and classifier.num_classes == 7
    np.testing.assert_allclose(classifier.predict(pixels(2)),
                               softmax(onnx_models.conv_reference(pixels(2), classes=7)), atol=1e-5)


def test_external_data_reached_through_a_link_out_of_the_folder_is_refused(tmp_path):
    import onnx

    folder = tmp_path / "model"
    folder.mkdir()
    path = folder / "linked.onnx"
    onnx.save(onnx_models.conv_net(), str(path), save_as_external_data=True, location="weights.bin",
              size_threshold=0)
    (tmp_path / "elsewhere").mkdir()
    (folder / "weights.bin").rename(tmp_path / "elsewhere" / "weights.bin")
    (folder / "weights.bin").symlink_to(tmp_path / "elsewhere" / "weights.bin")
    with pytest.raises(ModelError, match="^linked.onnx: tensor 'conv.weight' refers to data outside"):
        load_classifier(ModelSpec(model=str(path)))


def test_onnx_files_with_other_weights_never_share_stored_results(nchw_file, tmp_path):
    from onnx import numpy_helper

    from engine.store import model_fingerprint

    proto = onnx_models.conv_net()
    first = proto.graph.initializer[0]
    changed = numpy_helper.to_array(first).copy()
    changed.flat[0] += 1.0
    first.CopyFrom(numpy_helper.from_array(changed, first.name))
    other = onnx_models.save(proto, tmp_path / "other.onnx")

    def fingerprint(path):
        return model_fingerprint(load_classifier(ModelSpec(model=str(path), preprocess="torch")))

    assert fingerprint(nchw_file) == fingerprint(nchw_file)
    assert fingerprint(other) != fingerprint(nchw_file)
