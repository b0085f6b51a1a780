"""The trained EfficientNet-Lite0 in every head layout a user's model comes in.

Every layout holds the same trained network, so each one's numbers are checked against an
independent computation from another: Keras' own ``model.predict`` and, for sigmoid heads,
sigmoids of the logits head's scores. Explainers must run on every shape, and the gradient
methods must explain the same logits whichever way the head is written.
"""

import numpy as np
import pytest
import real_model
from real_model import BINARY_NAMES, EGYPTIAN_CAT, ESPRESSO, MULTILABEL_CLASSES, MULTILABEL_NAMES

from engine import explain
from engine.evaluate import evaluate_folder
from engine.explain.gradcam import GradCamParams
from engine.explain.integrated_gradients import IntegratedGradientsParams
from engine.explain.lime_image import LimeParams
from engine.explain.shap_partition import ShapParams
from engine.heads import HeadKind
from engine.images import fit_to_model
from engine.models import ModelSpec, load_classifier

pytestmark = pytest.mark.slow  # a trained network: seconds per test

HEADS = {"softmax": HeadKind.PROBABILITIES, "separate-softmax": HeadKind.PROBABILITIES,
         "nested-backbone": HeadKind.PROBABILITIES, "nested-classifier": HeadKind.PROBABILITIES,
         "logits": HeadKind.LOGITS, "multi-label": HeadKind.MULTILABEL, "binary": HeadKind.BINARY}


@pytest.fixture(scope="module")
def labels_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("labels")
    (folder / "multi.txt").write_text("\n".join(MULTILABEL_NAMES) + "\n")
    (folder / "binary.txt").write_text("\n".join(BINARY_NAMES) + "\n")
    return folder


@pytest.fixture(scope="module")
def classifiers(efficientnet_lite0, labels_files):
    """variant -> Classifier (Keras runtime), loaded on first use and kept for the module."""
    loaded = {}

    def get(variant):
        if variant not in loaded:
            labels = {"multi-label": labels_files / "multi.txt",
                      "binary": labels_files / "binary.txt"}.get(variant)
            loaded[variant] = load_classifier(ModelSpec(
                model=str(efficientnet_lite0(variant)), labels=str(labels) if labels else None,
                preprocess=real_model.PREPROCESS, runtime="keras"))
        return loaded[variant]

    return get


@pytest.fixture(scope="module")
def photos():
    """chelsea and coffee squashed to the model's input, as the app feeds them."""
    return np.stack([fit_to_model(real_model.sample_image(n), (224, 224))
                     for n in ("chelsea", "coffee")])


@pytest.fixture(scope="module")
def logits(classifiers, photos):
    """The logits head's raw scores (N, 1000), straight from the Keras model: the reference the sigmoid
    heads are computed from."""
    model = classifiers("logits").keras_model
    return np.asarray(model(photos.astype(np.float32) / 127.5 - 1.0, training=False)).astype(np.float64)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize("variant", list(HEADS))
def test_predictions_equal_keras_for_every_head_layout(variant, classifiers, photos):
    classifier = classifiers(variant)
    assert classifier.head_kind is HEADS[variant]
    raw = classifier.keras_model.predict(photos.astype(np.float32) / 127.5 - 1.0, verbose=0)
    raw = raw.astype(np.float64)
    if HEADS[variant] is HeadKind.LOGITS:  # softmax applied once, by hand here
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        expected = e / e.sum(axis=1, keepdims=True)
    elif HEADS[variant] is HeadKind.BINARY:
        expected = np.concatenate([1 - raw, raw], axis=1)
    else:
        expected = raw
    got = classifier.predict(photos)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("variant", ["softmax", "separate-softmax", "nested-backbone",
                                     "nested-classifier", "logits"])
def test_chelsea_and_coffee_in_every_softmax_layout(variant, classifiers, photos):
    p = classifiers(variant).predict(photos)
    top = np.argsort(p[0])[::-1][:3]
    assert list(top) == [EGYPTIAN_CAT, real_model.TIGER_CAT, real_model.TABBY]
    np.testing.assert_allclose(p[0, top], [0.794, 0.088, 0.070], atol=0.0006)
    assert int(np.argmax(p[1])) == ESPRESSO and p[1, ESPRESSO] == pytest.approx(0.902, abs=0.0006)


def test_several_sigmoids_are_independent_probabilities(classifiers, photos, logits):
    classifier = classifiers("multi-label")
    assert classifier.class_names == list(MULTILABEL_NAMES)
    p = classifier.predict(photos)
    np.testing.assert_allclose(p, _sigmoid(logits[:, list(MULTILABEL_CLASSES)]), atol=1e-5)
    # Both cat classes are likely at once: never renormalised to one.
    assert p[0, 0] > 0.5 and p[0, 1] > 0.5 and p[0].sum() > 1.2


def test_one_sigmoid_is_a_binary_model_named_by_two_labels(classifiers, photos, logits):
    classifier = classifiers("binary")
    assert classifier.num_classes == 2 and classifier.class_names == list(BINARY_NAMES)
    p = classifier.predict(photos)
    cat = _sigmoid(logits[:, EGYPTIAN_CAT] - logits[:, ESPRESSO])
    np.testing.assert_allclose(p, np.stack([1 - cat, cat], axis=1), atol=1e-5)
    assert classifier.top_k(p[0], 1)[0].name == "cat"
    assert classifier.top_k(p[1], 1)[0].name == "espresso"
    assert classifier.describe()["head"] == "binary"


def _labelled_folder(root, layout):
    from PIL import Image

    for folder, names in layout.items():
        (root / folder).mkdir(parents=True)
        for name in names:
            Image.fromarray(real_model.sample_image(name)).save(root / folder / f"{name}.png")
    return root


def _independent_confusion(layout, labels, probabilities_of):
    """Confusion matrix and accuracy from per-image probabilities computed in the test."""
    matrix = np.zeros((len(labels), len(labels)), int)
    for folder, names in layout.items():
        for name in names:
            matrix[labels.index(folder), int(np.argmax(probabilities_of[name]))] += 1
    return matrix, np.trace(matrix) / matrix.sum()


def test_binary_evaluation_counts_wrong_answers(classifiers, logits, tmp_path):
    """Every image filed under the wrong class: 0 %, not the 100 % of an argmax over one column."""
    layout = {"cat": ["coffee"], "espresso": ["chelsea"]}
    result = evaluate_folder(_labelled_folder(tmp_path / "swapped", layout), classifiers("binary"))
    cat = _sigmoid(logits[:, EGYPTIAN_CAT] - logits[:, ESPRESSO])
    reference = {"chelsea": [1 - cat[0], cat[0]], "coffee": [1 - cat[1], cat[1]]}
    matrix, accuracy = _independent_confusion(layout, list(BINARY_NAMES), reference)
    assert accuracy == 0.0
    assert result.accuracy == accuracy
    np.testing.assert_array_equal(result.confusion_matrix, matrix)
    assert result.to_json()["head"] == "binary"
    right = evaluate_folder(_labelled_folder(tmp_path / "right", {"cat": ["chelsea"],
                                                                  "espresso": ["coffee"]}),
                            classifiers("binary"))
    assert right.accuracy == 1.0


def test_multilabel_evaluation_uses_the_most_probable_class(classifiers, logits, tmp_path):
    layout = {"Egyptian cat": ["chelsea"], "tabby": ["chelsea"], "espresso": ["coffee"]}
    result = evaluate_folder(_labelled_folder(tmp_path / "multi", layout), classifiers("multi-label"))
    p = _sigmoid(logits[:, list(MULTILABEL_CLASSES)])
    matrix, accuracy = _independent_confusion(layout, list(MULTILABEL_NAMES),
                                              {"chelsea": p[0], "coffee": p[1]})
    assert accuracy == pytest.approx(2 / 3)  # chelsea is more Egyptian cat than tabby
    assert result.accuracy == pytest.approx(accuracy)
    np.testing.assert_array_equal(result.confusion_matrix, matrix)
    assert any("multi-label" in note for note in result.notes)


# ---------------------------------------------------------------------------------------------
# Every method on every head shape
# ---------------------------------------------------------------------------------------------

FAST = {"shap": ShapParams(max_evals=40, batch_size=20), "lime": LimeParams(num_samples=40, batch_size=20),
        "gradcam": GradCamParams(), "ig": IntegratedGradientsParams(steps=4, batch_size=8)}


@pytest.mark.parametrize("variant", ["multi-label", "binary"])
@pytest.mark.parametrize("method", ["shap", "lime"])
def test_model_agnostic_methods_run_on_sigmoid_heads(method, variant, classifiers, photos):
    classifier = classifiers(variant)
    result = explain.run(method, photos[0], classifier, [1, 0], FAST[method])
    assert result.maps.shape == (2, 224, 224) and np.isfinite(result.maps).all()
    assert np.abs(result.maps).max() > 0
    assert result.head == classifier.head_kind.value
    np.testing.assert_allclose(result.probabilities, classifier.predict(photos[:1])[0, [1, 0]], atol=1e-6)


@pytest.fixture(scope="module")
def gradcam_reference(classifiers, photos):
    """Grad-CAM of Egyptian cat and espresso on the plain softmax layout."""
    return explain.run("gradcam", photos[0], classifiers("softmax"), [EGYPTIAN_CAT, ESPRESSO],
                       FAST["gradcam"])


@pytest.mark.parametrize("variant", ["separate-softmax", "nested-backbone", "nested-classifier",
                                     "logits"])
def test_gradcam_is_the_same_whichever_way_the_head_is_written(variant, classifiers, photos,
                                                               gradcam_reference):
    result = explain.run("gradcam", photos[0], classifiers(variant), [EGYPTIAN_CAT, ESPRESSO],
                         FAST["gradcam"])
    assert result.params["layer"] == "_bn1_relu6"  # the last feature map, nested or not
    np.testing.assert_allclose(result.extras["cam"], gradcam_reference.extras["cam"],
                               rtol=1e-4, atol=1e-5 * float(gradcam_reference.extras["cam"].max()))


def test_gradcam_on_sigmoid_heads_follows_their_logits(classifiers, photos):
    """Multi-label class 0 is the logit of Egyptian cat (its sigmoid's input); binary class 1
    is logit(cat) − logit(espresso) and class 0 its negative, so their CAM weights are the
    logits head's, combined the same way."""
    from engine.backend import cached_gradient

    pixels = photos[:1]
    reference = cached_gradient(classifiers("logits"), "_bn1_relu6", wrt_input=False)(
        pixels, np.array([[EGYPTIAN_CAT, ESPRESSO]]))
    multi = cached_gradient(classifiers("multi-label"), "_bn1_relu6", wrt_input=False)(
        pixels, np.array([[0]]))
    np.testing.assert_allclose(multi.activation_grads[0, 0], reference.activation_grads[0, 0],
                               rtol=1e-4, atol=1e-7)
    binary = cached_gradient(classifiers("binary"), "_bn1_relu6", wrt_input=False)(
        pixels, np.array([[1, 0]]))
    difference = reference.activation_grads[0, 0] - reference.activation_grads[0, 1]
    np.testing.assert_allclose(binary.activation_grads[0, 0], difference, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(binary.activation_grads[0, 1], -difference, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(binary.scores[0], [reference.scores[0, 0] - reference.scores[0, 1],
                                                  reference.scores[0, 1] - reference.scores[0, 0]],
                               rtol=1e-4)
    for variant in ("multi-label", "binary"):
        result = explain.run("gradcam", photos[0], classifiers(variant), [0, 1], FAST["gradcam"])
        assert result.maps.shape == (2, 224, 224) and result.maps.max() > 0


def test_integrated_gradients_on_every_head_shape(classifiers, photos):
    """IG is linear in the class score: the binary head's class 1 (logit difference) must be
    the difference of the logits head's two maps; the separate Softmax layer's maps the
    plain softmax layout's; the multi-label class the logit's."""
    params = FAST["ig"]
    reference = explain.run("ig", photos[0], classifiers("logits"), [EGYPTIAN_CAT, ESPRESSO], params)
    scale = float(np.abs(reference.maps).max())
    separate = explain.run("ig", photos[0], classifiers("separate-softmax"), [EGYPTIAN_CAT, ESPRESSO],
                           params)
    assert separate.params["score"] == "logit" and reference.params["score"] == "output"
    np.testing.assert_allclose(separate.maps, reference.maps, atol=1e-4 * scale)
    binary = explain.run("ig", photos[0], classifiers("binary"), [1, 0], params)
    assert binary.params["score"] == "logit"
    np.testing.assert_allclose(binary.maps[0], reference.maps[0] - reference.maps[1], atol=2e-4 * scale)
    np.testing.assert_allclose(binary.maps[1], -binary.maps[0], atol=1e-5 * scale)
    multi = explain.run("ig", photos[0], classifiers("multi-label"), [0], params)
    np.testing.assert_allclose(multi.maps[0], reference.maps[0], atol=1e-4 * scale)
