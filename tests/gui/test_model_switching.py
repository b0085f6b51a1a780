"""Model switches, refusals and queued jobs never crash the window.

A plain QThread lost TensorFlow's per-thread state between slots, and the second Keras
model built on it crashed the process (see gui.engine_thread); the sequence runs in a child
process so that a crash fails this test instead of ending the test run.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds ResNet-50 (untrained) four times

SCRIPT = Path(__file__).with_name("model_switch_script.py")


def test_refused_weights_then_untrained_then_two_quick_switches_mid_job():
    env = {**os.environ, "IMAGE_EXPLAINER_RUNTIME": "keras"}  # the crash needed no OpenVINO; skip converting
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=600, env=env)
    steps = run.stdout.splitlines()
    assert run.returncode == 0, f"exit {run.returncode}; steps: {steps}\n{run.stderr[-3000:]}"
    assert steps == ["no weights: refused", "wrong weights file: refused", "explain: queued",
                     "untrained network: loaded", "queued job: running", "job: ended",
                     "switched twice: ready", "closed"]
