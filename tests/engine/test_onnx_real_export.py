"""A real PyTorch export: the document-orientation classifier shipped in ``occular-deskew``
(``torch.onnx.export`` from PyTorch 2.7, opset 17, dynamic batch, NCHW, logits, trained on
ImageNet-normalised pixels). The app must read it the usual way (``--preprocess torch``),
agree with onnxruntime, and give the known answer: a page turned k quarter turns clockwise
is class k."""

from importlib.resources import files

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from engine.heads import HeadKind
from engine.models import ModelSpec, load_classifier

ORIENTATIONS = ["upright", "turned 90° clockwise", "upside down", "turned 90° anticlockwise"]
TURNS = [None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE]


@pytest.fixture(scope="module")
def model_file():
    return files("occular_deskew") / "weights" / "orientation_orinet_fp32.onnx"


@pytest.fixture(scope="module")
def pages():
    """A page of black text on white, in its four orientations."""
    page = Image.new("RGB", (320, 320), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=18)
    for line in range(12):
        draw.text((12, 10 + 25 * line), f"The quick brown fox jumps over {line}", fill="black", font=font)
    upright = np.asarray(page)
    return np.stack([upright if turn is None else cv2.rotate(upright, turn) for turn in TURNS])


def test_a_real_pytorch_export_predicts_like_onnxruntime_and_knows_the_turn(model_file, pages, tmp_path):
    import onnxruntime

    labels = tmp_path / "orientations.txt"
    labels.write_text("\n".join(ORIENTATIONS))
    classifier = load_classifier(ModelSpec(model=str(model_file), preprocess="torch", labels=str(labels)))
    assert (classifier.layout, classifier.input_size, classifier.channels) == ("NCHW", (320, 320), 3)
    assert classifier.head_kind is HeadKind.LOGITS and classifier.class_names == ORIENTATIONS
    got = classifier.predict(pages)

    # onnxruntime on the same file, preprocessed as the model's own package does it
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    x = ((pages / 255.0 - mean) / std).astype(np.float32).transpose(0, 3, 1, 2)
    session = onnxruntime.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: x})[0].astype(np.float64)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert list(got.argmax(axis=1)) == [0, 1, 2, 3]
    assert [p.name for p in classifier.top_k(got[2], 1)] == ["upside down"]
