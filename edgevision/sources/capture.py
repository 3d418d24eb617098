"""The capture thread, its latest-frame slot, and the watchdog that keeps a live source alive.

When the model is slower than the camera, queueing frames would make every label older
than the last; instead the slot holds one frame and a newer one replaces it. Replaced
frames are counted as dropped, so latency stays bounded and the loss is visible.

Live sources fail in two ways: they end (server gone, camera unplugged) or a read hangs
inside C code (V4L2, FFmpeg, libcamera all can). A blocked C call cannot be interrupted
from Python, so reads happen in a reader thread per connection; the supervisor abandons
a reader whose read has taken longer than the watchdog timeout, opens a fresh instance
of the source with backoff, and resumes. The abandoned reader closes its source if its
read ever returns; a source that can be closed from another thread (``interruptible``: the
MJPEG reader, whose reads wait on a socket) is closed at once, so its read returns and nothing
is left holding the connection and its buffer.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from edgevision.runtime.frames import Frame
from edgevision.sources.frame_sources import FrameSource
from edgevision.sources.reconnect import ReconnectPolicy

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


class CaptureStatus(NamedTuple):
    """A change in the source's health, given to the ``on_status`` callback and logged."""

    state: str       # "lost", "hung", "reconnecting", "restored", "gave_up"
    detail: str
    attempt: int = 0


class _Reader(threading.Thread):
    """Reads one opened source instance until it ends, fails, or is abandoned by the supervisor."""

    def __init__(self, source: FrameSource, deliver: Callable[[Frame], None], stop: threading.Event,
                 pace_fps: float | None, next_frame: Callable[[], object] | None = None) -> None:
        super().__init__(name="edgevision-reader", daemon=True)
        self.source, self.deliver, self.stop, self.pace_fps = source, deliver, stop, pace_fps
        self.next_frame = next_frame or source.read  # a LazyGrabber's next() returns non-Frames for skipped frames
        self.abandoned = False
        self.busy_since: float | None = None
        self.outcome: BaseException | str | None = None
        self.done = threading.Event()

    def run(self) -> None:
        period = 1.0 / self.pace_fps if self.pace_fps else 0.0
        next_due = time.perf_counter()
        try:
            while not self.stop.is_set() and not self.abandoned:
                self.busy_since = time.monotonic()
                frame = self.next_frame()
                self.busy_since = None
                if self.abandoned:
                    break
                if frame is None:
                    self.outcome = "ended"
                    break
                if not isinstance(frame, Frame):  # grabbed and not decoded: the model will not take it
                    continue
                self.deliver(frame)
                if period:
                    next_due += period
                    delay = next_due - time.perf_counter()
                    if delay > 0:
                        self.stop.wait(delay)
                    else:
                        next_due = time.perf_counter()
        except Exception as exc:  # noqa: BLE001 - handed to the supervisor, never lost
            self.outcome = exc
        finally:
            self.busy_since = None
            try:
                self.source.close()
            except Exception as exc:  # noqa: BLE001
                log.debug("closing source failed: %s", exc)
            self.done.set()


def _open_with_timeout(source: FrameSource, timeout: float) -> BaseException | None:
    """Open ``source`` in a helper thread; an error, TimeoutError if it hung, or None when open."""
    result: list[BaseException | None] = []

    def _open() -> None:
        try:
            source.open()
            result.append(None)
        except Exception as exc:  # noqa: BLE001
            result.append(exc)
        if abandoned.is_set() and result[0] is None:
            source.close()  # opened after we gave up on it: release the device

    abandoned = threading.Event()
    t = threading.Thread(target=_open, name="edgevision-open", daemon=True)
    t.start()
    t.join(timeout)
    if not result:
        abandoned.set()
        return TimeoutError(f"opening took more than {timeout:g} s")
    return result[0]


class CaptureThread(threading.Thread):
    """Feeds the slot from an opened source; for live sources, watches and reconnects it.

    ``pace_fps`` plays a file at its own frame rate. Frame indices are renumbered so they
    keep increasing across reconnections.
    """

    def __init__(self, source: FrameSource, slot: LatestFrameSlot, stop: threading.Event,
                 pace_fps: float | None = None, policy: ReconnectPolicy | None = None,
                 on_status: Callable[[CaptureStatus], None] | None = None, live: bool | None = None,
                 reader_for: Callable[[FrameSource], Callable[[], object] | None] | None = None) -> None:
        super().__init__(name="edgevision-capture", daemon=True)
        self.reader_for = reader_for  # per opened instance: how to read it (default: source.read)
        self.source, self.slot, self.stop, self.pace_fps = source, slot, stop, pace_fps
        self.policy = policy or ReconnectPolicy()
        self.on_status = on_status
        self.live = source.live if live is None else live
        self.error: BaseException | None = None
        self.frames = 0
        self.reconnects = 0
        self.hangs = 0
        self.last_frame_at = time.monotonic()
        self._lock = threading.Lock()

    def _deliver_from(self, reader_ref: list[_Reader]) -> Callable[[Frame], None]:
        def deliver(frame: Frame) -> None:
            with self._lock:
                if reader_ref[0].abandoned:
                    return
                frame = dataclasses.replace(frame, index=self.frames) if frame.index != self.frames else frame
                self.frames += 1
                self.last_frame_at = time.monotonic()
            self.slot.put(frame)
        return deliver

    def _status(self, state: str, detail: str, attempt: int = 0) -> None:
        log.warning("source %s: %s", state, detail)  # rare, and what an operator needs to see in the journal
        if self.on_status is not None:
            try:
                self.on_status(CaptureStatus(state, detail, attempt))
            except Exception as exc:  # noqa: BLE001 - a status listener never stops capture
                log.warning("status listener failed: %s", exc)

    def _start_reader(self, source: FrameSource) -> _Reader:
        ref: list[_Reader] = []
        next_frame = self.reader_for(source) if self.reader_for is not None else None
        reader = _Reader(source, self._deliver_from(ref), self.stop, self.pace_fps, next_frame)
        ref.append(reader)
        reader.start()
        return reader

    def run(self) -> None:
        try:
            self._supervise()
        except Exception as exc:  # noqa: BLE001 - reported by the pipeline, never lost
            self.error = exc
            log.error("capture stopped: %s", exc)
        finally:
            self.slot.close()

    def _supervise(self) -> None:
        current = self.source  # the instance in use: fresh() is asked of it so it can release a wedged device
        reader: _Reader | None = self._start_reader(current)
        attempt, lost_at, frames_before = 0, 0.0, self.frames
        tick = min(0.1, self.policy.read_timeout / 4)
        while not self.stop.is_set():
            if reader is None:
                if not hasattr(self.source, "fresh"):
                    raise TimeoutError("the source hung and cannot be reopened")
                if self._gave_up():
                    return
                attempt += 1
                delay = self.policy.delay(attempt)
                self._status("reconnecting", f"attempt {attempt} in {delay:.1f} s", attempt)
                if self.stop.wait(delay):
                    return
                fresh = current.fresh()  # type: ignore[attr-defined]
                err = _open_with_timeout(fresh, self.policy.read_timeout)
                if err is not None:
                    log.warning("source still unavailable: %s", err)
                    continue
                self.reconnects += 1
                self._status("restored", f"after {time.monotonic() - lost_at:.1f} s and {attempt} attempt(s)",
                             attempt)
                current, frames_before = fresh, self.frames  # backoff resets only once a frame arrives
                reader = self._start_reader(fresh)
            if reader.done.wait(tick):
                if self.stop.is_set():
                    return
                outcome = reader.outcome
                if not self.live or not hasattr(self.source, "fresh"):  # files end; only live sources reconnect
                    if isinstance(outcome, BaseException):
                        raise outcome
                    return
                why = "stream ended" if outcome == "ended" or outcome is None else f"read failed ({outcome})"
                self._status("lost", why)
                reader, lost_at = None, time.monotonic()
                attempt = 0 if self.frames > frames_before else attempt
                continue
            busy = reader.busy_since
            if busy is not None and time.monotonic() - busy > self.policy.read_timeout:
                reader.abandoned = True
                if getattr(reader.source, "interruptible", False):  # its socket is shut: the read returns now
                    try:
                        reader.source.close()
                    except Exception as exc:  # noqa: BLE001 - the reader closes it again when its read returns
                        log.debug("closing a hung source failed: %s", exc)
                self.hangs += 1
                self._status("hung", f"a read blocked for more than {self.policy.read_timeout:g} s; abandoning it")
                reader, lost_at = None, time.monotonic()
                attempt = 0 if self.frames > frames_before else attempt
        if reader is not None:
            reader.done.wait(1.0)

    def _gave_up(self) -> bool:
        """Measured from the last good frame, not the last loss: a source that connects and then fails
        without ever sending a frame must not reset the clock."""
        limit = self.policy.give_up_after
        if limit is not None and time.monotonic() - self.last_frame_at > limit:
            self._status("gave_up", f"no frame for {limit:g} s")
            self.error = TimeoutError(f"no frame for {limit:g} s; giving up")
            return True
        return False
