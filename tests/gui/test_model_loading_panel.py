"""While a model loads, the progress panel says so (with the model's name), not "Ready";
a model from the command line (--model) joins Model ▸ Recent models once it has loaded."""

from gui.engine_requests import ModelRequest
from gui.main_window import MainWindow


def test_the_progress_panel_names_the_model_while_it_loads(qtbot, region_model_file, clean_settings):
    from gui.recent_models import recent_models

    window = MainWindow(ModelRequest(model=str(region_model_file),
                                     labels=str(region_model_file.with_name("labels.txt"))),
                        restore_layout=False)
    qtbot.addWidget(window)
    seen = []
    # Connected after the window's own slot: reads the panel as the window left it.
    window.controller.modelLoading.connect(lambda *_: seen.append(
        (window.progress_panel.title.text(), window.progress_panel.bar.maximum())))
    with qtbot.waitSignal(window.controller.modelReady, timeout=120_000):
        window.start()
    assert seen, "no loading signal"
    title, maximum = seen[0]
    assert "Loading model" in title and "region.keras" in title and "Ready" not in title
    assert maximum == 0  # a busy bar: loading has no steps to count
    assert window.progress_panel.title.text() == "Ready"
    assert window.progress_panel.bar.maximum() == 1
    assert [e["model"] for e in recent_models()] == [str(region_model_file.resolve())]
    window.close()
