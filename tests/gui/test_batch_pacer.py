"""The IG preview's batches are sized so that a dropped image's predictions wait at most
about PREVIEW_BATCH_S: one gradient batch."""

from __future__ import annotations

import pytest

from gui import engine_worker
from gui.engine_worker import PREVIEW_BATCH_S, _BatchPacer


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(engine_worker.time, "monotonic", clock)
    return clock


def test_starts_small_then_fits_batches_to_the_time_allowed(clock):
    pacer = _BatchPacer()
    assert pacer.batch_size() == _BatchPacer.FIRST
    pacer.resume(0)
    clock.now += 2 * 0.07  # 2 rows at 0.07 s a row
    pacer.batch_done(2)
    assert PREVIEW_BATCH_S == 0.3
    assert pacer.batch_size() == 4  # 4 rows take 0.28 s


def test_time_spent_serving_others_is_not_counted(clock):
    pacer = _BatchPacer()
    pacer.resume(0)
    clock.now += 0.14
    pacer.batch_done(2)  # 0.07 s a row
    clock.now += 5.0  # predictions and Grad-CAM served in between
    pacer.resume(2)
    clock.now += 0.14
    pacer.batch_done(4)
    assert pacer.batch_size() == 4


def test_fast_devices_get_large_batches_slow_ones_single_rows(clock):
    fast, slow = _BatchPacer(), _BatchPacer()
    for pacer, row_s in ((fast, 0.001), (slow, 2.0)):
        pacer.resume(0)
        clock.now += 4 * row_s
        pacer.batch_done(4)
    assert fast.batch_size() == _BatchPacer.MOST
    assert slow.batch_size() == 1
