"""``edgevision run MODEL --source SRC``: live labels, one JSON object per line on stdout."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from edgevision.cli.common import err_console, handle_errors


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM finish the current frame, flush, and exit 0 (never a half-written line)."""
    previous: dict[int, Any] = {}

    def _handler(signum: int, frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, _handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def register(app: typer.Typer) -> None:
    @app.command(epilog="Examples:\n\n  edgevision run model.tflite --source images/\n\n"
                        "  edgevision run model.tflite --source 0 --top-k 1 --smooth 5\n\n"
                        "  edgevision run model.tflite --source http://cam.local/stream.mjpg --out labels.jsonl\n\n"
                        "  edgevision run mobilenet.tflite --labels labels.txt --source clip.mp4 --realtime")
    @handle_errors
    def run(
        model: Path = typer.Argument(..., help="A .tflite model file."),
        source: str = typer.Option(..., "--source", "-s",
                                   help="Image, folder, video file, camera index (0) or http/rtsp URL."),
        labels: Path | None = typer.Option(None, "--labels", help="Labels file (overrides embedded labels)."),
        top_k: int = typer.Option(3, "--top-k", min=1, help="Classes per event."),
        threshold: float | None = typer.Option(None, "--threshold", help="Drop classes scoring below this."),
        smooth: int = typer.Option(1, "--smooth", min=1, help="Moving average of scores over K frames."),
        threads: int | None = typer.Option(None, "--threads", min=1,
                                           help="Interpreter threads (default: cores, or cores-1 for live sources)."),
        delegate: str | None = typer.Option(None, "--delegate", help="cpu (default) or edgetpu[:usb:0|:pci:0]."),
        norm: str | None = typer.Option(None, "--norm", help="raw|unit|symmetric, for models without metadata."),
        realtime: bool | None = typer.Option(None, "--realtime/--no-realtime",
                                             help="Drop stale frames (default: on for cameras/URLs, off for files)."),
        max_frames: int | None = typer.Option(None, "--max-frames", min=1, help="Stop after N labels."),
        loop: bool = typer.Option(False, "--loop", help="Loop a folder source forever."),
        out: Path | None = typer.Option(None, "--out", help="Also append the JSON lines to this file."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary on stderr."),
    ) -> None:
        """Classify frames from a source and print one JSON label event per line."""
        from edgevision.device.pipeline import Pipeline, PipelineOptions
        from edgevision.device.sinks import FanOut, JsonlSink
        from edgevision.device.sources import open_source
        from edgevision.runtime.classifier import Classifier, ClassifierOptions
        from edgevision.runtime.interpreter import default_threads

        src = open_source(source, loop=loop)
        live = src.live if realtime is None else realtime
        clf = Classifier(model, labels, ClassifierOptions(
            top_k=top_k, threshold=float("-inf") if threshold is None else threshold,
            threads=threads or default_threads(capture_thread=live), delegate=delegate, normalization=norm))
        stop = threading.Event()
        sinks = FanOut([JsonlSink(sys.stdout)] + ([JsonlSink(out)] if out else []))
        pipeline = Pipeline(clf, src, PipelineOptions(realtime=realtime, max_frames=max_frames, smooth=smooth), stop)
        try:
            with stop_on_signals(stop):
                for event in pipeline.events():
                    sinks.emit(event)
        finally:
            sinks.close()
        s = pipeline.stats
        if not quiet:
            err_console().print(f"{s.frames} frames from {s.source.name if s.source else source}: "
                                f"{s.fps:.1f} FPS, {s.dropped} dropped ({clf.info.name}, {clf.info.threads} threads)")
