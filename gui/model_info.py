"""``ModelInfo`` for a loaded classifier: everything the window shows about the model.

Called in the engine thread right after a load, so the layer table (which walks the Keras
model) is read there and only plain strings and numbers reach the GUI thread.
"""

from __future__ import annotations

from gui.engine_requests import ModelInfo


def describe_classifier(classifier, generation: int) -> ModelInfo:
    from engine.backend import backend_name, device_description

    try:
        summary = tuple(dict(row) for row in classifier.summary())
    except Exception:  # noqa: BLE001 - a model that cannot list its layers still works
        summary = ()
    return ModelInfo(label=classifier.label, name=classifier.name, untrained=classifier.untrained,
                     backend=backend_name(), device=device_description(),
                     input_size=tuple(classifier.input_size), num_classes=classifier.num_classes,
                     generation=generation, channels=int(getattr(classifier, "channels", 3)),
                     preprocess=classifier.preprocess_mode,
                     labels_source=getattr(classifier, "labels_source", ""),
                     source=getattr(classifier, "source", ""),
                     class_names=tuple(classifier.class_names), summary=summary,
                     runtime=getattr(classifier, "runtime", "keras"),
                     runtime_note=getattr(classifier, "runtime_note", ""),
                     precision=getattr(classifier, "precision", "float32"),
                     supports_gradients=bool(getattr(classifier, "supports_gradients", True)),
                     gradient_note=getattr(classifier, "gradient_note", ""),
                     facts=tuple(_facts(classifier)),
                     head=str(getattr(getattr(classifier, "head_kind", ""), "value", "")))


def _facts(classifier) -> list[tuple[str, str]]:
    facts = getattr(classifier, "summary_facts", None)
    return [(str(c), str(t)) for c, t in facts()] if facts is not None else []


def backend_text(info: ModelInfo) -> str:
    """The status bar's "what runs the model" text."""
    if not info.supports_gradients:  # an ONNX file: OpenVINO alone runs it, no Keras backend
        return "ONNX · OpenVINO bfloat16" if info.precision == "bfloat16" else "ONNX · OpenVINO"
    text = f"Keras backend: {info.backend} · {info.device}"
    if info.runtime != "openvino":
        return text
    return text + (" · OpenVINO bfloat16" if info.precision == "bfloat16" else " · OpenVINO")


def backend_tooltip(info: ModelInfo) -> str:
    if not info.supports_gradients:
        return f"Predictions run on OpenVINO. No gradients: {info.gradient_note}."
    if info.runtime == "openvino" and info.precision == "bfloat16":
        return ("Fast CPU mode: predictions run on OpenVINO in bfloat16, about twice as fast; "
                "probabilities and maps differ slightly from float32. Gradients run on Keras.")
    if info.runtime == "openvino":
        return ("Predictions run on OpenVINO: the same network in float32, faster on CPU "
                "(checked against Keras when the model loaded). Gradients run on Keras.")
    return info.runtime_note
