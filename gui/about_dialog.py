"""Help ▸ About: what the app is, its version, and what it runs on (Python, Keras and its
backend, Qt), so a bug report can say exactly which build it came from."""

from __future__ import annotations

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from engine import __version__
from engine.about import APP_NAME, runtime_versions

DESCRIPTION = ("Shows why an image classifier decided what it decided: SHAP, LIME, Grad-CAM and "
               "Integrated Gradients drawn over the image, one tab per class, with a faithfulness "
               "score that says how far to trust each map.")


def about_versions() -> dict[str, str]:
    versions = {APP_NAME: __version__, **runtime_versions()}
    versions["Qt"] = f"{qVersion()} (PySide6 {PySide6.__version__})"
    return versions


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle(f"About {APP_NAME}")
        self.versions = about_versions()
        rows = "".join(f"<tr><td style='padding-right:14px'>{name}</td><td><b>{value}</b></td></tr>"
                       for name, value in self.versions.items())
        self.label = QLabel(f"<h2>{APP_NAME} {__version__}</h2><p>{DESCRIPTION}</p><table>{rows}</table>")
        self.label.setObjectName("aboutText")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # for bug reports
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(buttons)
        self.setMinimumWidth(440)
