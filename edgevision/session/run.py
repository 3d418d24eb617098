"""One run: the source and the backend from their registries, the sinks from theirs, every event to each sink.

``edgevision run``, :func:`edgevision.stream`, a device's service (``edgevision device serve``) and
``edgevision bench --pipeline`` all go through :class:`Run`, so what a user tries on a desktop is what
the service does on a Pi. Opening is all-or-nothing: when a later part cannot be opened (a sink with a
bad URL, a model the runtime refuses), the parts already opened are closed again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from edgevision.errors import BadInput, CheckFailed
from edgevision.pipeline.events import LabelEvent
from edgevision.pipeline.realtime import Pipeline, PipelineStats
from edgevision.redact import without_userinfo
from edgevision.runtime.backend import Backend
from edgevision.runtime.backends import choose
from edgevision.session.config import RunConfig
from edgevision.session.watch import open_monitor, run_context
from edgevision.sinks.fanout import FanOut
from edgevision.sinks.registry import open_outputs
from edgevision.sources.frame_sources import FrameSource, open_source, single_image

if TYPE_CHECKING:
    from edgevision.pipeline.drift import DriftMonitor
    from edgevision.pipeline.drift_event import DriftEvent
    from edgevision.sources.capture import CaptureStatus


def is_frame_source(obj: object) -> bool:
    """An object the pipeline can read frames from (the Python API may hand one over)."""
    return hasattr(obj, "read") and hasattr(obj, "open") and hasattr(obj, "close")


class Run:
    """A run opened from its configuration; iterate :meth:`events`, or call :func:`run`.

    ``extra_sinks`` are open sinks to add after the configured ones (the Python API's callbacks);
    ``on_status`` hears about the source's health besides the sinks."""

    def __init__(self, config: RunConfig, stop: threading.Event | None = None,
                 on_status: Callable[[CaptureStatus], None] | None = None, extra_sinks: tuple[Any, ...] = ()) -> None:
        self.config = config
        self.stop = stop or threading.Event()
        self._on_status, self._extra = on_status, extra_sinks
        self._stack = ExitStack()
        self.backend: Backend | None = None
        self.source: FrameSource | None = None
        self.sinks: FanOut | None = None
        self.pipeline: Pipeline | None = None
        self.monitor: DriftMonitor | None = None
        self.backend_name = ""

    def __enter__(self) -> Run:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> Run:
        cfg = self.config
        try:
            self.backend, self.source = self._open_backend_and_source()
            self.monitor = open_monitor(cfg.drift, self.backend)
            context = run_context(cfg, self.backend, self.backend_name, self.monitor)
            self.sinks = sinks = open_outputs(cfg.outputs, context, self._extra)
            self._stack.callback(sinks.close)
            self.pipeline = Pipeline(self.backend, self.source, cfg.pipeline, self.stop, self._status)
        except BaseException:
            self.close()
            raise
        return self

    def _open_backend_and_source(self) -> tuple[Backend, FrameSource]:
        cfg = self.config
        spec, model = cfg.source.spec, cfg.backend.model
        if not isinstance(model, str) and isinstance(model, Backend):  # the Python API's own backend: not ours
            source = spec if is_frame_source(spec) else open_source(spec, cfg.source.loop,
                                                                    cfg.pipeline.reconnect.read_timeout,
                                                                    cfg.source.credentials)
            return model, source
        entry = choose(cfg.backend, spec)
        self.backend_name = entry.name
        if entry.serves_source(spec):  # the backend brings its frames (a sensor that runs the network)
            backend, source = entry.open_with_source(cfg.backend, spec, cfg.pipeline.reconnect.read_timeout)
            self._stack.callback(backend.close)
            return backend, source
        if entry.sources:
            raise BadInput(f"{model}: runs on {entry.summary}; give --source {entry.source_help or entry.name}")
        source = spec if is_frame_source(spec) else open_source(spec, cfg.source.loop,
                                                                cfg.pipeline.reconnect.read_timeout,
                                                                cfg.source.credentials)
        backend = entry.open(cfg.backend, reader_thread=not single_image(source))
        self._stack.callback(backend.close)
        return backend, source

    def _status(self, status: CaptureStatus) -> None:
        if self.sinks is not None:
            self.sinks.status(status)
        if self._on_status is not None:
            self._on_status(status)

    def announcements(self) -> list[str]:
        """What the sinks want a person to know once they run (where the live view is, a new token)."""
        return [text for sink in (self.sinks.sinks if self.sinks else []) for text in
                (getattr(sink, "announce", lambda: None)(),) if text]

    def events(self) -> Iterator[LabelEvent]:
        """Each frame's event, after every sink has had it (and the drift monitor, when one watches)."""
        assert self.pipeline is not None and self.sinks is not None, "open the run first"
        emit, monitor, tell = self.sinks.emit, self.monitor, self.sinks.drift
        for event, frame in self.pipeline.results():
            emit(event, frame)
            if monitor is not None:
                verdict = monitor.observe(event, frame)
                if verdict is not None:
                    tell(verdict)
            yield event

    @property
    def drift(self) -> DriftEvent | None:
        """The drift monitor's latest verdict (None before the first, or when no monitor watches)."""
        return self.monitor.last if self.monitor is not None else None

    @property
    def stats(self) -> PipelineStats:
        assert self.pipeline is not None
        return self.pipeline.stats

    def failure(self) -> str | None:
        """Why a live source was given up on (``give_up_after``), if it was."""
        capture = self.pipeline.capture if self.pipeline is not None else None
        return None if capture is None or capture.error is None else str(capture.error)

    def close(self) -> None:
        self._stack.close()


def run(config: RunConfig, stop: threading.Event | None = None) -> PipelineStats:
    """Run ``config`` to its end (the source ends, ``max_frames``, or ``stop`` is set); CheckFailed when a
    live source was given up on."""
    with Run(config, stop) as session:
        for _ in session.events():
            pass
        failure = session.failure()
        stats = session.stats
    if failure is not None:
        raise CheckFailed(f"{without_userinfo(str(config.source.spec))}: {failure}")
    return stats
