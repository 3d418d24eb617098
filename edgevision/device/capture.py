"""The capture thread and its latest-frame slot.

When the model is slower than the camera, queueing frames would make every label older
than the last; instead the slot holds one frame and a newer one replaces it. Replaced
frames are counted as dropped, so latency stays bounded and the loss is visible.
"""

from __future__ import annotations

import logging
import threading
import time

from edgevision.device.frames import Frame
from edgevision.device.sources import FrameSource

log = logging.getLogger("edgevision.capture")


class LatestFrameSlot:
    """A one-frame mailbox: ``put`` overwrites, ``take`` waits for something new."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify()

    def take(self, timeout: float | None = None) -> Frame | None:
        """The newest unseen frame; None once closed and drained (or on timeout)."""
        with self._cond:
            if self._frame is None and not self._closed:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed and self._frame is None


class CaptureThread(threading.Thread):
    """Reads ``source`` as fast as it delivers (or at ``pace_fps`` for files played in real time)."""

    def __init__(self, source: FrameSource, slot: LatestFrameSlot, stop: threading.Event,
                 pace_fps: float | None = None) -> None:
        super().__init__(name="edgevision-capture", daemon=True)
        self.source, self.slot, self.stop, self.pace_fps = source, slot, stop, pace_fps
        self.error: BaseException | None = None
        self.frames = 0

    def run(self) -> None:
        period = 1.0 / self.pace_fps if self.pace_fps else 0.0
        next_due = time.perf_counter()
        try:
            while not self.stop.is_set():
                frame = self.source.read()
                if frame is None:
                    break
                self.frames += 1
                self.slot.put(frame)
                if period:
                    next_due += period
                    delay = next_due - time.perf_counter()
                    if delay > 0:
                        self.stop.wait(delay)
                    else:
                        next_due = time.perf_counter()
        except Exception as exc:  # noqa: BLE001 - reported by the pipeline, never lost
            self.error = exc
            log.error("capture stopped: %s", exc)
        finally:
            self.slot.close()
