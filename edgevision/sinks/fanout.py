"""Fan-out to every sink: a failing sink is logged, retried with backoff, never fatal to the others."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from edgevision.pipeline.events import LabelEvent
from edgevision.runtime.frames import Frame

if TYPE_CHECKING:
    from edgevision.pipeline.drift_event import DriftEvent
    from edgevision.sources.capture import CaptureStatus

log = logging.getLogger("edgevision.sink")


class Sink(Protocol):
    """``emit`` gets every event. Optional: ``wants_frames = True`` to get the frame as well
    (``emit(event, frame)``), ``status(CaptureStatus)`` to hear about the source's health, and
    ``drift(DriftEvent)`` to hear each verdict of the drift monitor."""

    def emit(self, event: LabelEvent) -> None: ...

    def close(self) -> None: ...


class CallbackSink:
    """Calls a Python function with each event (the in-process API for integrations)."""

    def __init__(self, fn: Callable[[LabelEvent], object]) -> None:
        self.fn = fn
        self.name = getattr(fn, "__name__", "callback")

    def emit(self, event: LabelEvent) -> None:
        self.fn(event)

    def close(self) -> None:
        pass


class _Health:
    """One sink's failures in a row, when it may be tried again, and the events it missed meanwhile."""

    __slots__ = ("failures", "retry_at", "skipped")

    def __init__(self) -> None:
        self.failures = 0
        self.retry_at = 0.0
        self.skipped = 0


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
        self._tell("status", status)

    def drift(self, event: DriftEvent) -> None:
        self._tell("drift", event)

    def _tell(self, hook_name: str, what: object) -> None:
        """Hand ``what`` to every sink that has the hook; a failure is logged, never raised."""
        for sink in self.sinks:
            hook = getattr(sink, hook_name, None)
            if hook is None:
                continue
            try:
                hook(what)
            except Exception as exc:  # noqa: BLE001
                log.warning("sink %s %s update failed: %s", _name(sink), hook_name, exc)

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001
                log.warning("closing sink %s failed: %s", _name(sink), exc)


def _name(sink: Any) -> str:
    return f"{type(sink).__name__}({getattr(sink, 'name', '')})"
