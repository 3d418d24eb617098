"""The real-time pipeline: source -> latest-frame slot -> preprocess -> infer -> postprocess -> events.

Files are pulled frame by frame (nothing dropped, deterministic order); live sources, or
files played with ``realtime=True``, run a capture thread so the model always works on
the newest frame and stale ones are dropped and counted. Live sources are watched: a hung
read or a lost stream is reconnected with backoff and the loop carries on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from edgevision.device.capture import CaptureStatus, CaptureThread, LatestFrameSlot, ReconnectPolicy
from edgevision.device.events import LabelEvent
from edgevision.device.frames import Frame, SourceInfo
from edgevision.device.smoothing import ScoreSmoother
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
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)


@dataclass(frozen=True)
class PipelineStats:
    frames: int
    dropped: int
    elapsed_s: float
    source: SourceInfo | None
    reconnects: int = 0
    hangs: int = 0

    @property
    def fps(self) -> float:
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0


class Pipeline:
    """Iterate :meth:`events` (or :meth:`results`, which adds the frame) to classify a source."""

    def __init__(self, classifier: Classifier, source: FrameSource, options: PipelineOptions | None = None,
                 stop: threading.Event | None = None,
                 on_status: Callable[[CaptureStatus], None] | None = None) -> None:
        self.classifier, self.source = classifier, source
        self.options = options or PipelineOptions()
        self.stop = stop or threading.Event()
        self.on_status = on_status
        self.stats = PipelineStats(0, 0, 0.0, None)
        self.info: SourceInfo | None = None
        self.capture: CaptureThread | None = None
        self._smoother = ScoreSmoother(max(1, self.options.smooth))

    def events(self) -> Iterator[LabelEvent]:
        for event, _ in self.results():
            yield event

    def results(self) -> Iterator[tuple[LabelEvent, Frame]]:
        """Each label event with the frame it was computed from (for sinks that draw on frames)."""
        self.info = info = self.source.open()
        realtime = info.live if self.options.realtime is None else self.options.realtime
        t_start = time.perf_counter()
        slot = LatestFrameSlot() if realtime else None
        thread = None
        if slot is not None:
            pace = None if info.live else (info.fps or 30.0)
            thread = self.capture = CaptureThread(self.source, slot, self.stop, pace_fps=pace,
                                                  policy=self.options.reconnect, on_status=self.on_status,
                                                  live=info.live)
            thread.start()
        frames, seen_reconnects = 0, 0
        try:
            while not self.stop.is_set():
                if self.options.max_frames is not None and frames >= self.options.max_frames:
                    break
                frame = self.source.read() if slot is None else slot.take(timeout=self.options.idle_timeout)
                if frame is None:
                    if slot is None or slot.closed:
                        break
                    continue
                if thread is not None and thread.reconnects != seen_reconnects:
                    seen_reconnects = thread.reconnects
                    self._smoother.reset()
                event = self.classify_frame(frame, slot.dropped if slot else 0)
                frames += 1
                self.stats = self._stats(frames, event.dropped, t_start, info, thread)
                yield event, frame
        finally:
            self.stop.set()
            if thread is not None:
                thread.join(timeout=5.0)
            else:
                self.source.close()
            self.stats = self._stats(frames, slot.dropped if slot else 0, t_start, info, thread)
        if thread is not None and thread.error is not None and frames == 0:
            raise BadInput(f"{info.name}: capture failed ({thread.error})")

    @staticmethod
    def _stats(frames: int, dropped: int, t_start: float, info: SourceInfo,
               thread: CaptureThread | None) -> PipelineStats:
        return PipelineStats(frames, dropped, time.perf_counter() - t_start, info,
                             thread.reconnects if thread else 0, thread.hangs if thread else 0)

    def classify_frame(self, frame: Frame, dropped: int = 0) -> LabelEvent:
        """Preprocess, infer, smooth, rank one frame into a label event."""
        clf = self.classifier
        on_frame = getattr(clf, "scores_for_frame", None)  # a sensor backend (IMX500): scores came with the frame
        timed = on_frame(frame) if on_frame is not None else clf.scores_timed(frame.image)
        t0 = time.perf_counter()
        scores = self._smoother.update(timed.scores)
        ranked = clf.rank(scores)
        post_ms = (time.perf_counter() - t0) * 1e3
        best = ranked[0] if ranked else None
        return LabelEvent(
            frame=frame.index, source=frame.source,
            label=best.label if best else "", score=best.score if best else 0.0, index=best.index if best else -1,
            top_k=tuple(ranked), t_capture=frame.t_capture, t_emit=time.time(),
            ms={"capture": frame.capture_ms, "preprocess": timed.preprocess_ms, "infer": timed.infer_ms,
                "post": post_ms},
            dropped=dropped, infer_on=getattr(clf, "infer_on", ""),
        )
