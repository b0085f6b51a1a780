"""ResNet-50 forward-pass throughput on this CPU: TensorFlow against OpenVINO settings.

    python -m bench.cpu_runtimes

Untrained ResNet-50 (same compute as the ImageNet weights), batches of 50 as SHAP and LIME
send them, every runtime called in turn for a few rounds so that background load hits all
of them alike. float32 rows are the exact choices; the bfloat16 row is the labelled fast one.
"""

import time

import numpy as np

from engine.runtime import prepare_environment

BATCH = 50
ROUNDS = 3


def main() -> None:
    prepare_environment()
    from engine import openvino_forward
    from engine.models import ModelSpec, load_classifier

    classifier = load_classifier(ModelSpec(weights="none", runtime="keras"))
    ov = openvino_forward._import_openvino()
    network = openvino_forward._convert(ov, classifier.keras_model, classifier.preprocess_mode)
    core = ov.Core()

    def static(batch):
        clone = network.clone()
        clone.reshape({0: [batch, 224, 224, 3]})
        return clone

    settings = {
        "OpenVINO f32, latency": (network, {"PERFORMANCE_HINT": "LATENCY"}),
        "OpenVINO f32, latency, static batch": (static(BATCH), {"PERFORMANCE_HINT": "LATENCY"}),
        "OpenVINO f32, throughput": (network, {"PERFORMANCE_HINT": "THROUGHPUT"}),
        "OpenVINO f32, 2 streams": (network, {"NUM_STREAMS": "2"}),
    }
    compiled = {name: core.compile_model(net, "CPU", {"INFERENCE_PRECISION_HINT": "f32", **extra})
                for name, (net, extra) in settings.items()}
    if "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        compiled["OpenVINO bf16, latency"] = core.compile_model(
            network, "CPU", {"INFERENCE_PRECISION_HINT": "bf16", "PERFORMANCE_HINT": "LATENCY"})
    pixels = np.random.default_rng(0).integers(0, 256, (BATCH, 224, 224, 3), dtype=np.uint8)
    floats = pixels.astype(np.float32)

    def run_openvino(model):
        requests = model.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
        if requests == 1:
            model.create_infer_request().infer({0: floats})
            return
        queue = ov.AsyncInferQueue(model, requests)
        for chunk in np.array_split(floats, requests):
            queue.start_async({0: chunk})
        queue.wait_all()

    runs = {"TensorFlow (compiled tf.function)": lambda: classifier.predict(pixels)}
    runs.update({name: (lambda m=model: run_openvino(m)) for name, model in compiled.items()})
    seconds = {name: [] for name in runs}
    for name, call in runs.items():
        call()  # warm
    for _ in range(ROUNDS):
        for name, call in runs.items():
            start = time.perf_counter()
            call()
            seconds[name].append(time.perf_counter() - start)
    print(f"{'forward pass':<40}{'images/s':>10}")
    for name, values in seconds.items():
        print(f"{name:<40}{BATCH / min(values):>10.1f}")


if __name__ == "__main__":
    main()
