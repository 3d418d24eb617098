"""Bounded read-ahead for file sources: decode the next frames in a thread, nothing dropped, order kept.

Reading a video or a folder frame by frame on the inference thread makes each frame cost
decode + inference; with the next few frames decoded in a thread, a file runs at the pace
of the slower of the two. The queue is bounded in frames and in bytes (a folder of
12-megapixel photos must not fill a 1 GB Pi), errors reach the consumer in stream order,
and the source is read and closed by the one thread that owns it (OpenCV's VideoCapture
is not thread-safe). Given ``prepare``, the reader also makes the model's input tensor of a frame
whenever the consumer is the slower side (frames are already waiting for it), so a model-bound run
spends its inference thread on little but ``invoke``; when the consumer is waiting for frames, the
frame goes over as it is, at once.

The hand-over is two ``queue.SimpleQueue`` (C calls, as in ``InferWorker``): frames one way and room
tokens the other. When decoding is the slower side, the reader's time between two decodes is the
run's pace lost, and a Python-level condition variable cost it about 25 us a frame (2 % of a 640x480
MJPEG decode); the queues cost a fraction of that. What remains is the wake-up: a consumer asleep
in the kernel must be woken by the reader's put, which on a VM costs the waker (the slower side) an
inter-processor interrupt. So a consumer with nothing to read first polls in the shortest naps the OS
grants (``time.sleep(0)``: the timer slack, 50-80 us) for up to ``nap_s``, and only then blocks; the put
then has no sleeper to wake. A decode-dominated 640x480 MJPEG run gained 2-4 % for 0.1-0.2 of a core
(benchmarks/experiments/readahead_nap.py); a model-bound run never naps (frames are waiting), and a stalled source
is waited for asleep. On one core there is nothing to gain (each nap would preempt the reader): no naps.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable

from edgevision.runtime.frames import Frame
from edgevision.runtime.interpreter import usable_cores
from edgevision.sources.frame_sources import FrameSource

log = logging.getLogger("edgevision.readahead")

_END = object()


def _size(frame: Frame) -> int:
    """Bytes a waiting frame holds: its pixels and the input tensor made from them, if any."""
    return frame.image.nbytes + (frame.staged.tensor.nbytes if frame.staged is not None else 0)


class ReadAhead:
    """Wraps a pulled (non-live) source: ``read()`` returns its frames in order, decoded ahead of time.

    At most ``depth`` frames and ``max_bytes`` of pixels wait at any time (always at least one
    frame, however large): each waiting frame holds one of ``depth`` room tokens per
    ``max_bytes / depth`` bytes it has (at least one, at most all). ``close()`` stops the reader and
    closes the source.
    """

    live = False

    def __init__(self, source: FrameSource, depth: int = 3, max_bytes: int = 64 * 2**20,
                 prepare: Callable[[Frame], Frame] | None = None, poll_s: float = 0.25,
                 nap_s: float = 0.005) -> None:
        self.source, self.depth, self.max_bytes = source, max(1, depth), max_bytes
        self.prepare, self.poll_s = prepare, poll_s
        self.nap_s = nap_s if usable_cores() > 1 else 0.0  # one core: the naps would only preempt the reader
        self.prepared = 0
        self._out: queue.SimpleQueue[tuple[object, int]] = queue.SimpleQueue()  # (item, tokens it holds)
        self._room: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(self.depth):
            self._room.put(None)
        self._share = max(1, max_bytes // self.depth)  # bytes one token stands for
        self._stopped = self._ended = False
        self._thread = threading.Thread(target=self._run, name="edgevision-readahead", daemon=True)
        self._started = False

    def start(self) -> ReadAhead:
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def _token(self) -> bool:
        """Wait for one room token; False once stopped."""
        while not self._stopped:
            try:
                self._room.get(timeout=self.poll_s)
            except queue.Empty:
                continue
            return not self._stopped
        return False

    def _run(self) -> None:
        try:
            while self._token():
                try:
                    item: object = self.source.read()
                except Exception as exc:  # noqa: BLE001 - re-raised in the consumer, at its place in the stream
                    item = exc
                held = 1
                if isinstance(item, Frame):
                    if self.prepare is not None:
                        item = self._prepared(item)
                    want = min(self.depth, math.ceil(_size(item) / self._share))  # type: ignore[arg-type]
                    while held < want and self._token():
                        held += 1
                    if held < want:
                        return  # stopped while waiting for room
                self._out.put((_END if item is None else item, held))
                if isinstance(item, BaseException):
                    self._out.put((_END, 0))
                if item is None or isinstance(item, BaseException):
                    return
        finally:
            try:
                self.source.close()
            except Exception as exc:  # noqa: BLE001
                log.debug("closing source failed: %s", exc)

    def _prepared(self, frame: Frame) -> Frame:
        assert self.prepare is not None
        if self._out.empty():  # the consumer is waiting for frames: hand this one over at once
            return frame
        try:
            frame = self.prepare(frame)
        except Exception as exc:  # noqa: BLE001 - the consumer preprocesses it and reports the error in order
            log.debug("preparing frame %d ahead failed: %s", frame.index, exc)
            return frame
        self.prepared += 1
        return frame

    def read(self, timeout: float | None = None) -> Frame | None:
        """The next frame in order; None at the end of the source (or after ``timeout`` s with nothing ready)."""
        self.start()
        if self.ended:
            return None  # every read after the end also ends
        try:
            item, held = self._take(timeout)
        except queue.Empty:
            return None
        for _ in range(held):
            self._room.put(None)
        if item is _END:
            self._ended = True
            return None
        if isinstance(item, BaseException):
            raise item
        return item  # type: ignore[return-value]

    def _take(self, timeout: float | None) -> tuple[object, int]:
        """The next queued item: polled for in short naps for up to ``nap_s`` (see the module doc), then waited for."""
        out = self._out
        if not out.empty() or self.nap_s <= 0:
            return out.get(timeout=timeout)
        start = time.perf_counter()
        end = start + (self.nap_s if timeout is None else min(self.nap_s, timeout))
        while out.empty() and time.perf_counter() < end:
            time.sleep(0)
        if not out.empty():
            return out.get_nowait()
        return out.get(timeout=None if timeout is None else max(0.0, timeout - (time.perf_counter() - start)))

    @property
    def ended(self) -> bool:
        return self._stopped or self._ended

    def close(self, timeout: float = 5.0) -> None:
        """Stop reading ahead; the source is closed by the reader thread once its current read returns."""
        self._stopped = True
        for _ in range(self.depth):  # wake a reader waiting for room
            self._room.put(None)
        if self._started:
            self._thread.join(timeout)
        else:
            self.source.close()
        while not self._out.empty():  # frames nobody will read: let them go now
            self._out.get_nowait()
