"""Importing Keras quietly: one function every module that needs Keras goes through.

Its own module so that the model-graph code can use it without importing the backend
(which itself builds on the model graph).
"""

from __future__ import annotations

import os


def import_keras():
    """Import Keras with TensorFlow's start-up chatter hidden.

    TensorFlow's C++ core prints info lines straight to file descriptor 2 before its log
    level applies, so the descriptor itself is pointed at /dev/null while it loads. Python
    exceptions still propagate normally.
    """
    import sys

    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):
        import keras

        return keras
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return keras
