"""GUI test fixtures: offscreen Qt, QSettings in a temp folder, windows driven for real.

Loading a model takes seconds, so the known-answer window is built once per session and
reset before each test; ResNet-50 (untrained) gets its own module-scoped window where needed.
"""

import os

# Before anything imports Qt: no display is needed, and nothing pops up on a desktop.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from gui_helpers import FAST, REGION_LABELS, reset, wait_until_ready, window_for_model  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def settings_folder(tmp_path_factory):
    """Every QSettings in the test session reads and writes INI files under a temp folder."""
    folder = tmp_path_factory.mktemp("qsettings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, str(folder))
    _results_not_kept()
    return folder


def _results_not_kept():
    """Each test computes its own results: Explain ▸ Keep results between launches is off,
    as a person may set it, except in the tests of the result store, which turn it on."""
    from gui.settings_store import open_settings
    from gui.stored_results import KEEP_KEY

    store = open_settings()
    store.setValue(KEEP_KEY, False)
    store.sync()


@pytest.fixture
def clean_settings(settings_folder):
    from gui.settings_store import open_settings

    store = open_settings()
    store.clear()
    store.sync()
    _results_not_kept()
    yield settings_folder
    store.clear()
    store.sync()
    _results_not_kept()


@pytest.fixture(scope="session")
def region_model_file(tmp_path_factory):
    """The known-answer model saved as a user would have it: model.keras + labels.txt."""
    from known_models import build_region_model

    folder = tmp_path_factory.mktemp("region_model")
    path = folder / "region.keras"
    build_region_model().save(path)
    (folder / "labels.txt").write_text("\n".join(REGION_LABELS) + "\n")
    return path


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """A few real image files: the known-answer picture, a noise picture, a photo."""
    import skimage.data
    from known_models import region_image

    folder = tmp_path_factory.mktemp("images")
    Image.fromarray(region_image()).save(folder / "region.png")
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)).save(folder / "noise.png")
    Image.fromarray(skimage.data.coffee()).save(folder / "coffee.jpg", quality=90)
    Image.fromarray(np.flipud(region_image())).save(folder / "flipped.png")
    return folder


@pytest.fixture(scope="session")
def window_for_model_session(qapp, region_model_file):
    with window_for_model(region_model_file) as window:
        yield window


@pytest.fixture
def window(window_for_model_session, qtbot):
    """The known-answer window, model loaded, empty list, fast settings (not saved)."""
    w = window_for_model_session
    wait_until_ready(qtbot, w)
    reset(w, qtbot)
    w.settings_panel.apply_overrides(**FAST)
    yield w
    reset(w, qtbot)
