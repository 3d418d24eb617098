"""Label sinks: where events go. A failing sink is logged and skipped, never fatal to the others."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

from edgevision.device.events import LabelEvent

log = logging.getLogger("edgevision.sink")


class Sink(Protocol):
    def emit(self, event: LabelEvent) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """One JSON object per line, flushed per event so a killed run leaves only complete lines."""

    def __init__(self, target: IO[str] | str | Path | None = None) -> None:
        if target is None or target == "-":
            self._fh: IO[str] = sys.stdout
            self._owned = False
        elif isinstance(target, str | Path):
            self._fh = open(target, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
            self._owned = True
        else:
            self._fh, self._owned = target, False

    def emit(self, event: LabelEvent) -> None:
        self._fh.write(event.to_json() + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._owned:
            self._fh.close()


class CallbackSink:
    """Calls a Python function with each event (the in-process API for integrations)."""

    def __init__(self, fn: Callable[[LabelEvent], object]) -> None:
        self.fn = fn

    def emit(self, event: LabelEvent) -> None:
        self.fn(event)

    def close(self) -> None:
        pass


class FanOut:
    """Delivers each event to every sink; one sink's failure does not starve the rest."""

    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = sinks
        self.failures = [0] * len(sinks)

    def emit(self, event: LabelEvent) -> None:
        for i, sink in enumerate(self.sinks):
            try:
                sink.emit(event)
            except BrokenPipeError:
                raise
            except Exception as exc:  # noqa: BLE001 - isolate sinks from each other
                self.failures[i] += 1
                if self.failures[i] in (1, 10, 100) or self.failures[i] % 1000 == 0:
                    log.warning("sink %s failed (%d times): %s", type(sink).__name__, self.failures[i], exc)

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001
                log.warning("closing sink %s failed: %s", type(sink).__name__, exc)
