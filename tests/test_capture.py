"""The latest-frame slot and the capture thread: drop stale frames, count them, never queue."""

from __future__ import annotations

import threading
import time

import numpy as np

from edgevision.runtime.frames import Frame, SourceInfo
from edgevision.sources.capture import CaptureThread, LatestFrameSlot


def _frame(i: int) -> Frame:
    return Frame(np.zeros((2, 2, 3), np.uint8), i, "test", time.time(), 0.0)


def test_slot_keeps_only_the_newest_and_counts_drops() -> None:
    slot = LatestFrameSlot()
    for i in range(5):
        slot.put(_frame(i))
    got = slot.take(timeout=0.1)
    assert got is not None and got.index == 4
    assert slot.dropped == 4
    assert slot.take(timeout=0.01) is None  # nothing new
    slot.put(_frame(5))
    slot.close()
    assert slot.take(timeout=0.01).index == 5  # drained after close
    assert slot.closed and slot.take(timeout=0.01) is None


class _FastSource:
    live = True

    def __init__(self, n: int) -> None:
        self.n, self.i = n, 0

    def open(self) -> SourceInfo:
        return SourceInfo("fast", "test", True, None, 2, 2)

    def read(self) -> Frame | None:
        if self.i >= self.n:
            return None
        self.i += 1
        return _frame(self.i - 1)

    def close(self) -> None:
        pass


def test_capture_thread_against_a_slow_consumer() -> None:
    slot, stop = LatestFrameSlot(), threading.Event()
    thread = CaptureThread(_FastSource(2000), slot, stop)
    thread.start()
    seen = []
    while True:
        f = slot.take(timeout=0.5)
        if f is None and slot.closed:
            break
        if f is not None:
            seen.append(f.index)
            time.sleep(0.002)  # a "model" slower than the source
    thread.join()
    assert seen == sorted(seen)             # order preserved, never an older frame after a newer one
    assert seen[-1] == 1999                 # the last frame always reaches the consumer
    assert len(seen) + slot.dropped == 2000  # every frame is either classified or counted as dropped
    assert slot.dropped > 0


def test_paced_capture_respects_stop() -> None:
    slot, stop = LatestFrameSlot(), threading.Event()
    thread = CaptureThread(_FastSource(10_000), slot, stop, pace_fps=50)
    thread.start()
    time.sleep(0.2)
    stop.set()
    thread.join(timeout=2)
    assert not thread.is_alive()
    assert thread.frames < 40  # 50 FPS for 0.2 s, not as fast as possible
