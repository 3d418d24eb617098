"""``edgevision.stream``: the Python API over a run (the same events as ``edgevision run``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgevision.pipeline.events import LabelEvent
from edgevision.pipeline.realtime import PipelineOptions
from edgevision.runtime.backends import BackendConfig
from edgevision.session.config import RunConfig, SourceConfig
from edgevision.session.run import Run
from edgevision.sinks.registry import OutputsConfig
from edgevision.sources.reconnect import ReconnectPolicy

if TYPE_CHECKING:
    from edgevision.sources.capture import CaptureStatus


def stream(model: str | Path | Any, source: str | int | Path | Any, *,
           labels: str | Path | None = None, top_k: int = 3, threshold: float = float("-inf"),
           threads: int | None = None, delegate: str | None = None, normalization: str | None = None,
           realtime: bool | None = None, max_frames: int | None = None, smooth: int = 1, loop: bool = False,
           reconnect: ReconnectPolicy | None = None, on_status: Callable[[CaptureStatus], None] | None = None,
           stop: threading.Event | None = None, backend: str | None = None,
           outputs: OutputsConfig | None = None) -> Iterator[LabelEvent]:
    """Yield a :class:`LabelEvent` per frame of ``source`` (a path, URL, camera index, ``"picamera2"``, a
    backend's own source (the AI Camera's sensor, with its network as ``model``), or any object with the
    frame-source methods). ``model`` is a model file or an open backend (a ``Classifier``); ``outputs``
    adds sinks, as ``edgevision run``'s options do.

    >>> for event in edgevision.stream("model.tflite", "images/"):  # doctest: +SKIP
    ...     print(event.label, event.score)
    """
    config = RunConfig(
        source=SourceConfig(source, loop=loop),
        backend=BackendConfig(model=model, labels=Path(labels) if labels is not None else None, top_k=top_k,
                              threshold=threshold, threads=threads, delegate=delegate, normalization=normalization,
                              name=backend),
        pipeline=PipelineOptions(realtime=realtime, max_frames=max_frames, smooth=smooth,
                                 reconnect=reconnect or ReconnectPolicy()),
        outputs=outputs or OutputsConfig(), quiet=True)
    yield from events_of(config, stop, on_status)


def events_of(config: RunConfig, stop: threading.Event | None = None,
              on_status: Callable[[CaptureStatus], None] | None = None) -> Iterator[LabelEvent]:
    """The events of any run configuration (what :func:`stream` builds from its arguments)."""
    with Run(config, stop, on_status) as session:
        yield from session.events()
