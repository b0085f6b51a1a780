"""The event loop keeps turning while the engine works: no gap over 200 ms between 10 ms ticks."""

import pytest
from gui_helpers import longest_gap

MAX_GAP_S = 0.2


@pytest.mark.parametrize("method", ["shap", "lime"])
def test_event_loop_never_blocks_during_a_job(window, qtbot, image_folder, method):
    (entry,) = window.add_paths([image_folder / "region.png"])
    window.settings_panel.apply_overrides(methods=method, shap_max_evals=2000, lime_samples=20000)
    gap, ticks = longest_gap(window, qtbot, lambda: window.explain(entry), [entry])
    assert entry.status == "done"
    assert ticks > 40, "the job was too short to measure anything"
    assert gap < MAX_GAP_S, f"the GUI thread was blocked for {gap * 1000:.0f} ms"
