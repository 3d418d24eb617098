"""The real-time pipeline: source -> latest-frame slot -> preprocess -> infer -> postprocess -> events.

Files are pulled frame by frame (nothing dropped, deterministic order); live sources, or
files played with ``realtime=True``, run a capture thread so the model always works on
the newest frame and stale ones are dropped and counted.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from edgevision.device.capture import CaptureThread, LatestFrameSlot
from edgevision.device.events import LabelEvent
from edgevision.device.frames import Frame, SourceInfo
from edgevision.device.sources import FrameSource
from edgevision.errors import BadInput
from edgevision.runtime.classifier import Classifier


@dataclass(frozen=True)
class PipelineOptions:
    """How frames are scheduled and post-processed."""

    realtime: bool | None = None  # None: live sources in real time, files frame by frame
    max_frames: int | None = None
    smooth: int = 1               # moving average of scores over this many frames
    idle_timeout: float = 0.5     # how often the loop wakes to check for stop


@dataclass(frozen=True)
class PipelineStats:
    frames: int
    dropped: int
    elapsed_s: float
    source: SourceInfo | None

    @property
    def fps(self) -> float:
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0


class Pipeline:
    """Iterate :meth:`events` to get one :class:`LabelEvent` per classified frame."""

    def __init__(self, classifier: Classifier, source: FrameSource, options: PipelineOptions | None = None,
                 stop: threading.Event | None = None) -> None:
        self.classifier, self.source = classifier, source
        self.options = options or PipelineOptions()
        self.stop = stop or threading.Event()
        self.stats = PipelineStats(0, 0, 0.0, None)
        self._history: deque[np.ndarray] = deque(maxlen=max(1, self.options.smooth))

    def events(self) -> Iterator[LabelEvent]:
        info = self.source.open()
        realtime = info.live if self.options.realtime is None else self.options.realtime
        t_start = time.perf_counter()
        slot = LatestFrameSlot() if realtime else None
        thread = None
        if slot is not None:
            pace = None if info.live else (info.fps or 30.0)
            thread = CaptureThread(self.source, slot, self.stop, pace_fps=pace)
            thread.start()
        frames = 0
        try:
            while not self.stop.is_set():
                if self.options.max_frames is not None and frames >= self.options.max_frames:
                    break
                frame = self._next(slot)
                if frame is None:
                    if slot is None or slot.closed:
                        break
                    continue
                event = self._classify(frame, slot.dropped if slot else 0)
                frames += 1
                self.stats = PipelineStats(frames, event.dropped, time.perf_counter() - t_start, info)
                yield event
        finally:
            self.stop.set()
            if thread is not None:
                thread.join(timeout=5.0)
            self.source.close()
            dropped = slot.dropped if slot else 0
            self.stats = PipelineStats(frames, dropped, time.perf_counter() - t_start, info)
        if thread is not None and thread.error is not None and frames == 0:
            raise BadInput(f"{info.name}: capture failed ({thread.error})")

    def _next(self, slot: LatestFrameSlot | None) -> Frame | None:
        if slot is None:
            return self.source.read()
        return slot.take(timeout=self.options.idle_timeout)

    def _classify(self, frame: Frame, dropped: int) -> LabelEvent:
        clf = self.classifier
        timed = clf.scores_timed(frame.image)
        t0 = time.perf_counter()
        scores = timed.scores
        if self._history.maxlen and self._history.maxlen > 1:
            self._history.append(scores.copy())
            scores = np.mean(np.stack(self._history), axis=0)
        ranked = clf.rank(scores)
        post_ms = (time.perf_counter() - t0) * 1e3
        best = ranked[0] if ranked else None
        return LabelEvent(
            frame=frame.index, source=frame.source,
            label=best.label if best else "", score=best.score if best else 0.0, index=best.index if best else -1,
            top_k=tuple(ranked), t_capture=frame.t_capture, t_emit=time.time(),
            ms={"capture": frame.capture_ms, "preprocess": timed.preprocess_ms, "infer": timed.infer_ms,
                "post": post_ms},
            dropped=dropped,
        )
