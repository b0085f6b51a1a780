"""After Cancel the progress bar and the line beside it give one count of evaluations."""

import numpy as np

from gui.engine_requests import ExplainJob
from gui.progress_panel import ProgressPanel


def test_bar_and_title_show_the_engines_count_at_the_cancel(qtbot):
    panel = ProgressPanel()
    qtbot.addWidget(panel)
    job = ExplainJob(1, 1, np.zeros((4, 4, 3), np.uint8), ("shap",), {}, {}, 3)
    job.total = 908
    panel.job_started(job, "cat.png")
    job.done, job.stage = 336, "SHAP"
    panel.job_progress(job)
    assert panel.bar.value() == 336
    # Ticks after the cancel are dropped; the engine then reports how far it really got.
    job.done, job.state = 400, "cancelled"
    panel.job_ended(job, "cat.png")
    assert "400 of 908" in panel.title.text()
    assert panel.bar.value() == 400 and panel.bar.maximum() == 908
    assert panel.bar.text() == "400 / 908 evaluations"


def test_a_job_cancelled_while_queued_shows_nothing_done(qtbot):
    panel = ProgressPanel()
    qtbot.addWidget(panel)
    job = ExplainJob(2, 1, np.zeros((4, 4, 3), np.uint8), ("lime",), {}, {}, 3)
    job.total = 1000
    panel.job_started(job, "dog.png")
    job.state = "cancelled"
    panel.job_ended(job, "dog.png")
    assert "0 of 1000" in panel.title.text() and panel.bar.value() == 0
