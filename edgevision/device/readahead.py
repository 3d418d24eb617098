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
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from edgevision.device.frames import Frame
from edgevision.device.sources import FrameSource

log = logging.getLogger("edgevision.readahead")

_END = object()


def _size(frame: Frame) -> int:
    """Bytes a waiting frame holds: its pixels and the input tensor made from them, if any."""
    return frame.image.nbytes + (frame.staged.tensor.nbytes if frame.staged is not None else 0)


class ReadAhead:
    """Wraps a pulled (non-live) source: ``read()`` returns its frames in order, decoded ahead of time.

    At most ``depth`` frames and ``max_bytes`` of pixels wait at any time (always at least one
    frame, however large). ``close()`` stops the reader and closes the source.
    """

    live = False

    def __init__(self, source: FrameSource, depth: int = 3, max_bytes: int = 64 * 2**20,
                 prepare: Callable[[Frame], Frame] | None = None) -> None:
        self.source, self.depth, self.max_bytes = source, max(1, depth), max_bytes
        self.prepare = prepare
        self.prepared = 0
        self._items: deque[object] = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="edgevision-readahead", daemon=True)
        self._started = False

    def start(self) -> ReadAhead:
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def _room(self) -> bool:
        return not self._items or (len(self._items) < self.depth and self._bytes < self.max_bytes)

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._stopped and not self._room():
                        self._cond.wait()
                    if self._stopped:
                        return
                try:
                    item: object = self.source.read()
                except Exception as exc:  # noqa: BLE001 - re-raised in the consumer, at its place in the stream
                    item = exc
                if self.prepare is not None and isinstance(item, Frame):
                    item = self._prepared(item)
                with self._cond:
                    if isinstance(item, Frame):
                        self._bytes += _size(item)
                    self._items.append(_END if item is None else item)
                    if isinstance(item, BaseException):
                        self._items.append(_END)
                    self._cond.notify_all()
                if item is None or isinstance(item, BaseException):
                    return
        finally:
            try:
                self.source.close()
            except Exception as exc:  # noqa: BLE001
                log.debug("closing source failed: %s", exc)

    def _prepared(self, frame: Frame) -> Frame:
        assert self.prepare is not None
        with self._cond:
            behind = bool(self._items)  # frames wait for the consumer: it is the slower side
        if not behind:
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
        with self._cond:
            if not self._items and not self._stopped:
                self._cond.wait_for(lambda: self._items or self._stopped, timeout)
            if not self._items:
                return None
            item = self._items[0]
            if item is _END:
                return None  # left in place: every later read also ends
            self._items.popleft()
            if isinstance(item, Frame):
                self._bytes -= _size(item)
            self._cond.notify_all()
        if isinstance(item, BaseException):
            raise item
        return item  # type: ignore[return-value]

    @property
    def ended(self) -> bool:
        with self._cond:
            return self._stopped or bool(self._items and self._items[0] is _END)

    def close(self, timeout: float = 5.0) -> None:
        """Stop reading ahead; the source is closed by the reader thread once its current read returns."""
        with self._cond:
            self._stopped = True
            self._items.clear()
            self._bytes = 0
            self._cond.notify_all()
        if self._started:
            self._thread.join(timeout)
        else:
            self.source.close()
