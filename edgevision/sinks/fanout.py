"""Label sinks: where events go. A failing sink is logged, retried with backoff, never fatal to the others."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from edgevision.pipeline.events import LabelEvent
from edgevision.runtime.frames import Frame
from edgevision.sources.capture import CaptureStatus

log = logging.getLogger("edgevision.sink")


class Sink(Protocol):
    """``emit`` gets every event. Optional: ``wants_frames = True`` to get the frame as well
    (``emit(event, frame)``), and ``status(CaptureStatus)`` to hear about the source's health."""

    def emit(self, event: LabelEvent) -> None: ...

    def close(self) -> None: ...


def _end_partial_line(path: str | Path, fd: int) -> None:
    """A file whose last line was cut (a crash of some other writer) gets a newline first, so the
    next event starts its own line instead of being glued to the torn one (which is kept as is)."""
    if os.fstat(fd).st_size == 0:
        return
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) != b"\n":
            os.write(fd, b"\n")


class JsonlSink:
    """One JSON object per line, so a killed run or a full disk leaves only complete lines.

    A file gets each line in one ``write`` on an ``O_APPEND`` descriptor; when the disk fills
    mid-line, the part that got through is cut off again, and the sink fails (FanOut retries it),
    so the file never holds a torn line that would break a reader of the log.
    """

    def __init__(self, target: IO[str] | str | Path | None = None) -> None:
        self.name = "stdout" if target is None or target == "-" or target is sys.stdout else str(target)
        self._fd: int | None = None
        self._fh: IO[str] | None = None
        if target is None or target == "-":
            self._fh = sys.stdout
        elif isinstance(target, str | Path):
            self._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            _end_partial_line(target, self._fd)
        else:
            self._fh = target

    def emit(self, event: LabelEvent) -> None:
        line = event.to_json() + "\n"
        if self._fh is not None:
            self._fh.write(line)
            self._fh.flush()
            return
        assert self._fd is not None
        data = line.encode("utf-8")
        written = os.write(self._fd, data)  # all, part (disk filled mid-line) or OSError (nothing written)
        if written != len(data):
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, os.lseek(self._fd, 0, os.SEEK_END) - written)
            raise OSError(errno.ENOSPC, "No space left on device (the partial line was removed)")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class CallbackSink:
    """Calls a Python function with each event (the in-process API for integrations)."""

    def __init__(self, fn: Callable[[LabelEvent], object]) -> None:
        self.fn = fn
        self.name = getattr(fn, "__name__", "callback")

    def emit(self, event: LabelEvent) -> None:
        self.fn(event)

    def close(self) -> None:
        pass


@dataclass
class _Health:
    """One sink's failures in a row, when it may be tried again, and the events it missed meanwhile."""

    failures: int = 0
    retry_at: float = 0.0
    skipped: int = 0


class FanOut:
    """Delivers each event to every sink; one sink's failure does not starve the rest.

    A sink that raises is skipped for a backoff period (1 s doubling to 30 s; its events in
    that time are counted as skipped), then tried again; recovery is logged.
    """

    def __init__(self, sinks: list[Any], backoff_initial: float = 1.0, backoff_max: float = 30.0) -> None:
        self.sinks = sinks
        self.health = [_Health() for _ in sinks]
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max

    @property
    def failures(self) -> list[int]:
        return [h.failures for h in self.health]

    def emit(self, event: LabelEvent, frame: Frame | None = None) -> None:
        now = time.monotonic()
        for sink, h in zip(self.sinks, self.health, strict=True):
            if h.retry_at > now:
                h.skipped += 1
                continue
            try:
                if getattr(sink, "wants_frames", False):
                    sink.emit(event, frame)
                else:
                    sink.emit(event)
            except BrokenPipeError:
                raise
            except Exception as exc:  # noqa: BLE001 - isolate sinks from each other
                h.failures += 1
                wait = min(self.backoff_max, self.backoff_initial * 2 ** min(h.failures - 1, 10))
                h.retry_at = now + wait
                log.warning("sink %s failed (%d in a row): %s; retrying in %.0f s", _name(sink), h.failures, exc,
                            wait)
            else:
                if h.failures:
                    log.warning("sink %s recovered after %d failure(s), %d event(s) skipped", _name(sink),
                                h.failures, h.skipped)
                    h.failures, h.skipped, h.retry_at = 0, 0, 0.0

    def status(self, status: CaptureStatus) -> None:
        for sink in self.sinks:
            hook = getattr(sink, "status", None)
            if hook is None:
                continue
            try:
                hook(status)
            except Exception as exc:  # noqa: BLE001
                log.warning("sink %s status update failed: %s", _name(sink), exc)

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001
                log.warning("closing sink %s failed: %s", _name(sink), exc)


def _name(sink: Any) -> str:
    return f"{type(sink).__name__}({getattr(sink, 'name', '')})"
