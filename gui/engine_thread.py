"""The engine's thread: a QThread whose event loop runs inside one Python call.

A plain ``QThread`` runs its event loop in C++; every queued slot then enters Python with a
fresh Python thread state, dropped again when the slot returns, and with it the thread's
``threading.local`` data. TensorFlow keeps per-thread state (its eager context) there and
does not expect it to vanish between calls: building a second Keras model in a later slot
(after a refused weights file, say) crashed the process or hung it reading the weights.
Running ``exec()`` from Python's ``run`` keeps one thread state for the thread's whole life.
"""

from __future__ import annotations

from PySide6.QtCore import QThread


class EngineThread(QThread):
    def run(self) -> None:
        self.exec()
