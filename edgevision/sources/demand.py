"""Decode only the frames the model will take: a latest-frame slot that knows when the next take is due.

A live source offers more frames than the model can use, and decoding each one (what a
plain ``read()`` loop does) spends on frames that are dropped the cores inference needs.
Sources that split a read into ``grab()`` (take the frame off the device or stream: cheap)
and ``retrieve()`` (decode/convert it) are read by :class:`LazyGrabber`: it grabs every
frame, so the stream never backs up and the freshest frame is always at hand, and
retrieves one only when :class:`DemandSlot` says the model will want a frame before the
next grab could be decoded in time. The slot learns the consumer's pace from its own
``take`` calls and how early it must start from its misses: each time the consumer has to
wait, the safety margin grows by a quarter of its period, and it shrinks slowly while
frames are ready in time, so a quiet board gets the freshest frames and a loaded one does
not stall. A waiting consumer is served by the next grab, and a frame left too long in the
slot is replaced, so latency stays bounded either way. Given ``prepare``, the grabber also makes the
model's input tensor of a frame it decoded while the consumer is still busy (not when it is waiting:
then the frame goes over at once).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from edgevision.runtime.frames import Frame
from edgevision.sources.capture import LatestFrameSlot

SKIPPED = object()  # LazyGrabber.next(): a frame was grabbed and not decoded


def _ema(old: float | None, new: float, alpha: float = 0.2) -> float:
    return new if old is None else old + alpha * (new - old)


class DemandSlot(LatestFrameSlot):
    """A :class:`LatestFrameSlot` that also predicts when its consumer takes the next frame."""

    def __init__(self) -> None:
        super().__init__()
        self._waiting = False
        self._taken_at: float | None = None   # when the consumer last got a frame
        self._busy: float | None = None       # EMA of the consumer's time between getting a frame and asking again
        self._margin = 0.0                    # extra lead, learnt from the times the consumer had to wait
        self._put_at = 0.0
        self.misses = 0

    def put(self, frame: Frame) -> None:
        with self._cond:
            self._put_at = time.monotonic()
        super().put(frame)

    def take(self, timeout: float | None = None) -> Frame | None:
        with self._cond:
            now = time.monotonic()
            if self._taken_at is not None:
                self._busy = _ema(self._busy, now - self._taken_at)
                self._taken_at = None
            if self._frame is None and not self._closed:
                if self._busy is not None:  # predicted too late: start earlier from now on
                    self.misses += 1
                    self._margin = min(self._busy, self._margin + 0.25 * self._busy)
                self._waiting = True  # the reader decodes its next grab at once
                self._cond.wait(timeout)
                self._waiting = False
            else:
                self._margin *= 0.98
            frame, self._frame = self._frame, None
            if frame is not None:
                self._taken_at = time.monotonic()
            return frame

    @property
    def waiting(self) -> bool:
        """Is the consumer blocked in :meth:`take` right now?"""
        with self._cond:
            return self._waiting

    def skip(self) -> None:
        """A frame was grabbed and left undecoded: it counts as dropped."""
        with self._cond:
            self.dropped += 1

    def wants(self, lead_s: float) -> bool:
        """Should the frame just grabbed be decoded, when decoding plus one more grab take ``lead_s``?"""
        with self._cond:
            now = time.monotonic()
            if self._waiting:
                return True
            if self._frame is not None:  # refresh a frame that has waited longer than the consumer's period
                return now - self._put_at > max(self._busy or 0.0, 2 * lead_s)
            if self._taken_at is None or self._busy is None:
                return True
            return now + lead_s + self._margin >= self._taken_at + self._busy


class LazyGrabber:
    """Reads a two-phase source (``grab``/``retrieve``) for a :class:`DemandSlot`."""

    def __init__(self, source: object, slot: DemandSlot, margin_s: float = 0.001,
                 prepare: Callable[[Frame], Frame] | None = None) -> None:
        self.source, self.slot, self.margin_s, self.prepare = source, slot, margin_s, prepare
        self._last_grab: float | None = None
        self._interval: float | None = None  # EMA of the time between grabs (the source's frame period)
        self._decode: float | None = None    # EMA of retrieve() time
        self.grabbed = self.decoded = 0

    def next(self) -> Frame | object | None:
        """A decoded frame, :data:`SKIPPED`, or None at the end of the stream."""
        if not self.source.grab():  # type: ignore[attr-defined]
            return None
        now = time.monotonic()
        if self._last_grab is not None:
            self._interval = _ema(self._interval, now - self._last_grab)
        self._last_grab = now
        self.grabbed += 1
        lead = (self._decode or 0.0) + (self._interval or 0.0) + self.margin_s
        if not self.slot.wants(lead):
            self.slot.skip()
            return SKIPPED
        t0 = time.perf_counter()
        frame = self.source.retrieve()  # type: ignore[attr-defined]
        if frame is None:
            return SKIPPED  # a corrupt frame is skipped, not the end
        if self.prepare is not None and not self.slot.waiting:
            try:
                frame = self.prepare(frame)
            except Exception:  # noqa: BLE001 - the consumer preprocesses it and reports the error
                pass
        self._decode = _ema(self._decode, time.perf_counter() - t0)  # the lead a wanted frame needs
        self.decoded += 1
        return frame


def two_phase(source: object) -> bool:
    return callable(getattr(source, "grab", None)) and callable(getattr(source, "retrieve", None))
