"""Shared pieces of the live-source suites (bench_overload.py, bench_soak.py): a paced 640x480 camera, RSS.

The models come from ``lib/models.py``, like every suite's.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from edgevision.runtime.frames import Frame, SourceInfo
from edgevision.runtime.interpreter import usable_cores


class PacedCamera:
    """A live 640x480 source that delivers at ``fps`` like a camera: read() blocks until the next frame.

    ``t_capture`` is the moment the frame is handed over, i.e. the glass time of a camera
    with no internal buffering, so t_emit - t_capture is the pipeline's glass-to-label latency.
    """

    live = True

    def __init__(self, fps: float, width: int = 640, height: int = 480, frames: int = 8) -> None:
        rng = np.random.default_rng(1)
        self.fps, self.width, self.height = fps, width, height
        self._frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(frames)]
        self._i = 0
        self._next = 0.0
        self.closed = False

    def fresh(self) -> PacedCamera:
        return PacedCamera(self.fps, self.width, self.height, len(self._frames))

    def open(self) -> SourceInfo:
        self._next = time.perf_counter()
        return SourceInfo(f"paced{self.fps:.0f}", "synthetic", True, self.fps, self.width, self.height)

    def read(self) -> Frame | None:
        if self.closed:
            return None
        self._next += 1.0 / self.fps
        delay = self._next - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        else:
            self._next = time.perf_counter()
        img = self._frames[self._i % len(self._frames)]
        self._i += 1
        return Frame(img, self._i - 1, "paced", time.time(), 0.0)

    def close(self) -> None:
        self.closed = True


def rss_mb() -> float:
    """Current resident set size (not the peak), from /proc."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def verdict(ok: bool) -> int:
    """Exit status of a live-source suite: its targets need the cores it was given. A camera thread paced in
    real time cannot keep its rate on a machine whose load exceeds its cores, so there the figures are
    printed but not judged (exit 0, said so); elsewhere a missed target is exit 1."""
    try:
        load = float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError):
        load = 0.0
    cores = usable_cores()
    if not ok and load > cores:
        print(f"not judged: load {load:.1f} on {cores} cores (other processes took the time the camera needs)")
        return 0
    return 0 if ok else 1
