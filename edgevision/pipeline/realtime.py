"""The real-time pipeline: source -> latest-frame slot -> preprocess -> infer -> postprocess -> events.

Files are pulled in order with nothing dropped, decoded a few frames ahead in a thread so
decoding overlaps inference; live sources, or files played with ``realtime=True``, run a
capture thread so the model always works on the newest frame and stale ones are dropped
and counted (two-phase sources decode only the frames the model takes). The reading thread also
makes the model's input tensor when it has time to spare (the backend's ``stager``), and with a reading
thread the model is invoked in a thread of its own (``InferWorker``) when it is the slower side, so
post-processing, events and sinks run while it works. The pipeline knows backends only by the protocol
of :mod:`edgevision.runtime.backend`. Live sources are watched: a hung read or a lost stream is reconnected with
backoff and the loop carries on.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from edgevision.errors import BadInput
from edgevision.pipeline.events import LabelEvent
from edgevision.pipeline.infer_worker import END, IDLE, InferWorker
from edgevision.runtime.backend import Backend, Raw, Timed
from edgevision.runtime.frames import Frame, SourceInfo
from edgevision.sources.frame_sources import FrameSource
from edgevision.sources.reconnect import ReconnectPolicy

if TYPE_CHECKING:
    from edgevision.sources.capture import CaptureStatus, CaptureThread
    from edgevision.sources.demand import DemandSlot
    from edgevision.sources.readahead import ReadAhead

_Scored = tuple[Frame, tuple[Raw | Timed, int]]  # a frame, its scores and the reconnect count when it was taken
PROBE_FRAMES = 10  # frames timed on the caller's thread before the model may get a thread of its own


def _median(values: list[float]) -> float:
    """(``statistics`` costs a Pi more to import than this whole choice is worth.)"""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


class PipelineOptions(NamedTuple):
    """How frames are scheduled and post-processed."""

    realtime: bool | None = None  # None: live sources in real time, files frame by frame
    max_frames: int | None = None
    smooth: int = 1               # results averaged over this many frames (the backend's post-processor)
    idle_timeout: float = 0.5     # how often the loop wakes to check for stop
    read_ahead: int = 3           # file sources: frames decoded ahead in a thread (0: read on the loop's thread)
    read_ahead_nap_s: float = 0.005  # how long the loop polls in short naps for the next file frame before it
    #                                  blocks (0: block at once; see ReadAhead)
    overlap: bool | None = None   # with a reader thread, invoke in a thread of its own (rank and emit in the
    #                               caller's): None decides from the first frames (yes when the model is slower)
    reconnect: ReconnectPolicy = ReconnectPolicy()


class PipelineStats(NamedTuple):
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
    """Iterate :meth:`events` (or :meth:`results`, which adds the frame) to run ``backend`` on a source."""

    def __init__(self, backend: Backend, source: FrameSource, options: PipelineOptions | None = None,
                 stop: threading.Event | None = None,
                 on_status: "Callable[[CaptureStatus], None] | None" = None) -> None:
        self.backend, self.source = backend, source
        self.options = options or PipelineOptions()
        self.stop = stop or threading.Event()
        self.on_status = on_status
        self.stats = PipelineStats(0, 0, 0.0, None)
        self.info: SourceInfo | None = None
        self.capture: CaptureThread | None = None
        self._post = backend.postprocessor(max(1, self.options.smooth))

    def _preparer(self) -> Callable[[Frame], Frame] | None:
        """Preprocessing for the reading thread, for backends that preprocess on the host."""
        stage = self.backend.stager()
        if stage is None:
            return None

        def prepare(frame: Frame) -> Frame:
            return dataclasses.replace(frame, staged=stage(frame.image, frame.order))

        return prepare

    def events(self) -> Iterator[LabelEvent]:
        for event, _ in self.results():
            yield event

    def results(self) -> Iterator[tuple[LabelEvent, Frame]]:
        """Each label event with the frame it was computed from (for sinks that draw on frames)."""
        prefer, spec = getattr(self.source, "prefer", None), self.backend.wanted_input()
        if callable(prefer) and spec is not None:  # e.g. picamera2: have the ISP deliver the model's size and order
            prefer(spec)
        self.info = info = self.source.open()
        realtime = info.live if self.options.realtime is None else self.options.realtime
        t_start = time.perf_counter()
        slot: DemandSlot | None = None
        thread = None
        ahead: ReadAhead | None = None
        if realtime:  # the capture thread, its slot and the read-ahead: imported by the runs that use them
            from edgevision.sources import capture, demand

            slot = demand.DemandSlot()
            pace = None if info.live else (info.fps or 30.0)
            lazy = info.live  # a paced file plays every frame at its rate: nothing to skip decoding of
            prepare = self._preparer() if lazy else None

            def reader_for(src: FrameSource) -> Callable[[], object] | None:
                return demand.LazyGrabber(src, slot, prepare=prepare).next if lazy and demand.two_phase(src) else None

            thread = self.capture = capture.CaptureThread(self.source, slot, self.stop, pace_fps=pace,
                                                          policy=self.options.reconnect, on_status=self.on_status,
                                                          live=info.live, reader_for=reader_for)
            thread.start()
        elif self.options.read_ahead > 0 and not info.live and info.kind != "image":  # files, not a live camera
            from edgevision.sources import readahead

            ahead = readahead.ReadAhead(self.source, depth=self.options.read_ahead, prepare=self._preparer(),
                                        nap_s=self.options.read_ahead_nap_s).start()
        idle = self.options.idle_timeout

        def take() -> Frame | object:
            if slot is not None:
                frame = slot.take(timeout=idle)
                return frame if frame is not None else (END if slot.closed else IDLE)
            if ahead is not None:
                frame = ahead.read(timeout=idle)
                return frame if frame is not None else (END if ahead.ended else IDLE)
            frame = self.source.read()
            return END if frame is None else frame

        def infer(frame: Frame) -> tuple[Raw | Timed, int]:  # the reconnect count as the frame was taken
            return self._raw(frame), thread.reconnects if thread is not None else 0

        limit = self.options.max_frames
        workers: list[InferWorker] = []
        frames, seen_reconnects = 0, 0
        try:
            depth = 1 if slot is not None else 2  # live: at most one scored frame waits (latency)
            overlap = self.options.overlap if slot is not None or ahead is not None else False
            if overlap is None:
                pairs: Iterator[_Scored] = self._adaptive(take, infer, limit, depth, workers)
            elif overlap:
                workers.append(InferWorker(take, infer, self.stop, limit, depth).start())
                pairs = iter(workers[0])
            else:
                pairs = self._serial(take, infer, limit)
            for frame, (result, reconnects) in pairs:
                if reconnects != seen_reconnects:
                    seen_reconnects = reconnects
                    self._post.reset()
                event = self._event(frame, result, slot.dropped if slot else 0)
                frames += 1
                self.stats = self._stats(frames, event.dropped, t_start, info, thread)
                yield event, frame
                if limit is not None and frames >= limit:
                    break
        finally:
            self.stop.set()
            for worker in workers:
                worker.close()
            if thread is not None:
                thread.join(timeout=5.0)
            elif ahead is not None:
                ahead.close()
            else:
                self.source.close()
            self.stats = self._stats(frames, slot.dropped if slot else 0, t_start, info, thread)
        if thread is not None and thread.error is not None and frames == 0:
            raise BadInput(f"{info.name}: capture failed ({thread.error})")

    @staticmethod
    def _stats(frames: int, dropped: int, t_start: float, info: SourceInfo,
               thread: "CaptureThread | None") -> PipelineStats:
        return PipelineStats(frames, dropped, time.perf_counter() - t_start, info,
                             thread.reconnects if thread else 0, thread.hangs if thread else 0)

    def _serial(self, take: Callable[[], Frame | object], infer: Callable[[Frame], tuple[Raw | Timed, int]],
                limit: int | None) -> Iterator[_Scored]:
        """Take and infer on the caller's thread (no reader thread, or ``overlap=False``)."""
        n = 0
        while not self.stop.is_set() and (limit is None or n < limit):
            frame = take()
            if frame is IDLE:
                continue
            if frame is END:
                return
            assert isinstance(frame, Frame)
            yield frame, infer(frame)
            n += 1

    def _adaptive(self, take: Callable[[], Frame | object], infer: Callable[[Frame], tuple[Raw | Timed, int]],
                  limit: int | None, depth: int, workers: list[InferWorker]) -> Iterator[_Scored]:
        """The first frames on the caller's thread, timed; then the model gets a thread of its own if it is
        the slower side. When reading is slower (a small model), a third thread only adds waits for the GIL."""
        probe = PROBE_FRAMES if limit is None else min(limit, PROBE_FRAMES)
        model_ms, read_ms = [], []
        for frame, result in self._serial(take, infer, probe):
            timed = result[0]
            model_ms.append(timed.infer_ms + (timed.preprocess_ms if frame.staged is None else 0.0))
            read_ms.append(frame.capture_ms + (frame.staged.ms if frame.staged is not None else 0.0))
            yield frame, result
        rest = None if limit is None else limit - len(model_ms)
        if len(model_ms) < probe or rest == 0 or self.stop.is_set():
            return  # the source ended, or the limit was reached, while probing
        if _median(model_ms) <= _median(read_ms):
            yield from self._serial(take, infer, rest)
            return
        workers.append(InferWorker(take, infer, self.stop, rest, depth).start())
        yield from workers[-1]

    def classify_frame(self, frame: Frame, dropped: int = 0) -> LabelEvent:
        """Infer and post-process one frame into its event (on the caller's thread)."""
        return self._event(frame, self._raw(frame), dropped)

    def _raw(self, frame: Frame) -> Raw | Timed:
        """What the inference thread does per frame, and nothing more (the backend's ``infer_frame``)."""
        return self.backend.infer_frame(frame)

    def _event(self, frame: Frame, result: Raw | Timed, dropped: int) -> LabelEvent:
        """The frame's event: the backend's post-processor makes the task's result (smoothed, ranked)."""
        t0 = time.perf_counter()
        payload = self._post(result)
        post_ms = (time.perf_counter() - t0) * 1e3
        return LabelEvent(
            frame=frame.index, source=frame.source, t_capture=frame.t_capture, t_emit=time.time(),
            ms={"capture": frame.capture_ms, "preprocess": result.preprocess_ms, "infer": result.infer_ms,
                "post": post_ms},
            dropped=dropped, result=payload, infer_on=self.backend.infer_on,
        )
