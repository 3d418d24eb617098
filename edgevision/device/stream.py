"""``edgevision.stream``: the Python API over the pipeline (same events as ``edgevision run``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from edgevision.device.events import LabelEvent
from edgevision.device.pipeline import Pipeline, PipelineOptions
from edgevision.device.sources import open_source
from edgevision.runtime.classifier import Classifier, ClassifierOptions


def stream(model: str | Path | Classifier, source: str | int | Path, *, labels: str | Path | None = None,
           top_k: int = 3, threshold: float = float("-inf"), threads: int | None = None,
           realtime: bool | None = None, max_frames: int | None = None, smooth: int = 1, loop: bool = False,
           stop: threading.Event | None = None) -> Iterator[LabelEvent]:
    """Yield a :class:`LabelEvent` per classified frame of ``source``.

    >>> for event in edgevision.stream("model.tflite", "images/"):  # doctest: +SKIP
    ...     print(event.label, event.score)
    """
    clf = model if isinstance(model, Classifier) else Classifier(
        model, labels, ClassifierOptions(top_k=top_k, threshold=threshold, threads=threads))
    pipeline = Pipeline(clf, open_source(source, loop=loop),
                        PipelineOptions(realtime=realtime, max_frames=max_frames, smooth=smooth), stop)
    yield from pipeline.events()
