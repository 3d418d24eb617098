"""``edgevision.stream``: the Python API over the pipeline (same events as ``edgevision run``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from edgevision.imx500.source_name import is_imx500_source
from edgevision.pipeline.events import LabelEvent
from edgevision.pipeline.realtime import Pipeline, PipelineOptions
from edgevision.runtime.classifier import Classifier, ClassifierOptions
from edgevision.runtime.interpreter import default_threads
from edgevision.sources.capture import CaptureStatus, ReconnectPolicy
from edgevision.sources.frame_sources import FrameSource, open_source, single_image


def stream(model: str | Path | Classifier, source: str | int | Path | FrameSource, *,
           labels: str | Path | None = None, top_k: int = 3, threshold: float = float("-inf"),
           threads: int | None = None, delegate: str | None = None, normalization: str | None = None,
           realtime: bool | None = None, max_frames: int | None = None, smooth: int = 1, loop: bool = False,
           reconnect: ReconnectPolicy | None = None, on_status: Callable[[CaptureStatus], None] | None = None,
           stop: threading.Event | None = None) -> Iterator[LabelEvent]:
    """Yield a :class:`LabelEvent` per classified frame of ``source`` (a path, URL, camera index,
    ``"picamera2"``, ``"imx500"`` with an .rpk as ``model``, or any object with the FrameSource methods).

    >>> for event in edgevision.stream("model.tflite", "images/"):  # doctest: +SKIP
    ...     print(event.label, event.score)
    """
    options = PipelineOptions(realtime=realtime, max_frames=max_frames, smooth=smooth,
                              reconnect=reconnect or ReconnectPolicy())
    if is_imx500_source(source):  # the AI Camera
        from edgevision.imx500.open_sensor import open_imx500

        sensor, backend = open_imx500(model, source, labels, top_k, threshold)  # type: ignore[arg-type]
        yield from Pipeline(backend, sensor, options, stop, on_status).events()  # type: ignore[arg-type]
        return
    is_source = hasattr(source, "read") and hasattr(source, "open")
    src = source if is_source else open_source(source, loop=loop)  # type: ignore[arg-type]
    clf = model if isinstance(model, Classifier) else Classifier(  # cores - 1 as in `edgevision run`
        model, labels, ClassifierOptions(top_k=top_k, threshold=threshold, delegate=delegate,
                                         threads=threads or default_threads(capture_thread=not single_image(src)),
                                         normalization=normalization))
    yield from Pipeline(clf, src, options, stop, on_status).events()  # type: ignore[arg-type]
