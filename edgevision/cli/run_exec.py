"""What ``edgevision run`` does once its command line is read (by the parser ``run_cmd`` builds)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgevision.cli.common import err_console, handle_errors

SWITCH_INTERVAL_S = 0.0005


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


@handle_errors
def run(*, model: Path, source: str, labels: Path | None, top_k: int, threshold: float | None, smooth: int,
        threads: int | None, delegate: str | None, norm: str | None, realtime: bool | None, max_frames: int | None,
        loop: bool, stdout: bool, out: Path | None, mqtt: str | None, mqtt_password_file: Path | None,
        mqtt_ca: Path | None, mqtt_cert: Path | None, mqtt_key: Path | None, mqtt_node: str | None,
        mqtt_discovery: bool, web: int | None, host: str, web_token: str | None, web_token_file: Path | None,
        read_timeout: float, give_up_after: float | None, quiet: bool) -> None:
    """Classify frames from a source and send one label event per frame to every output (the parameters
    are those of :data:`edgevision.run.options.RUN_TABLE`, all given, by the parser ``run_cmd`` builds)."""
    from edgevision.errors import BadInput, CheckFailed
    from edgevision.imx500.source_name import is_imx500_source
    from edgevision.pipeline.realtime import Pipeline, PipelineOptions
    from edgevision.runtime.classifier import Classifier, ClassifierOptions
    from edgevision.runtime.interpreter import default_threads
    from edgevision.sinks.outputs import OutputOptions, build_outputs
    from edgevision.sources.capture import ReconnectPolicy
    from edgevision.sources.frame_sources import open_source, single_image

    # Three threads share the GIL here (reader, model, events): Python's default 5 ms switch interval
    # lets one wait that long for it after each decode or invoke; 0.5 ms keeps a small model at its pace.
    sys.setswitchinterval(SWITCH_INTERVAL_S)

    if is_imx500_source(source):  # the network runs on the AI Camera's sensor
        from edgevision.imx500.open_sensor import open_imx500

        src, clf = open_imx500(model, source, labels, top_k, threshold)
    else:
        src = open_source(source, loop=loop, timeout_s=read_timeout)
        one_image = single_image(src)
        clf = Classifier(model, labels, ClassifierOptions(
            top_k=top_k, threshold=float("-inf") if threshold is None else threshold,
            threads=threads or default_threads(capture_thread=not one_image), delegate=delegate,
            normalization=norm))
    stop = threading.Event()
    sinks = build_outputs(OutputOptions(stdout=stdout, file=out, mqtt_url=mqtt, mqtt_node=mqtt_node,
                                        mqtt_discovery=mqtt_discovery, web_port=web, web_host=host,
                                        model_name=clf.artifact.name, mqtt_password_file=mqtt_password_file,
                                        mqtt_ca=mqtt_ca, mqtt_cert=mqtt_cert, mqtt_key=mqtt_key,
                                        web_token=web_token, web_token_file=web_token_file))
    for sink in sinks.sinks:  # rich is imported only to say something (not before the first label otherwise)
        if getattr(sink, "generated_token", False) and quiet:
            sinks.close()
            raise BadInput(f"--host {host}: a live view beyond loopback needs a token, and --quiet would "
                           "hide the generated one; pass --web-token-file FILE (or $EDGEVISION_WEB_TOKEN)")
        if hasattr(sink, "url") and not quiet:
            err_console().print(f"live view: {getattr(sink, 'share_url', sink.url)}")
    policy = ReconnectPolicy(read_timeout=read_timeout, give_up_after=give_up_after)
    pipeline = Pipeline(clf, src, PipelineOptions(realtime=realtime, max_frames=max_frames, smooth=smooth,
                                                  reconnect=policy), stop, on_status=sinks.status)
    try:
        with stop_on_signals(stop):
            for event, frame in pipeline.results():
                sinks.emit(event, frame)
    finally:
        sinks.close()
    s = pipeline.stats
    if not quiet:
        extra = f", {s.reconnects} reconnects, {s.hangs} hung reads" if s.reconnects or s.hangs else ""
        err_console().print(f"{s.frames} frames from {s.source.name if s.source else source}: {s.fps:.1f} FPS, "
                            f"{s.dropped} dropped{extra} ({clf.info.name}, {clf.info.threads} threads)")
    capture = pipeline.capture
    if capture is not None and capture.error is not None:  # gave up on a lost source
        raise CheckFailed(f"{source}: {capture.error}")
