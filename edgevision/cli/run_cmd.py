"""``edgevision run MODEL --source SRC``: live labels to stdout, a file, MQTT and a live web view."""

from __future__ import annotations

import signal
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


EPILOG = """Examples:

  edgevision run model.tflite --source images/

  edgevision run model.tflite --source 0 --top-k 1 --smooth 5 --threshold 0.5

  edgevision run model.tflite --source picamera2:lores --web 8080 --mqtt mqtt://broker.local/kitchen/camera

  edgevision run model.tflite --source http://cam.local/stream.mjpg --out labels.jsonl --no-stdout

  edgevision run mobilenet.tflite --labels labels.txt --source clip.mp4 --realtime

  edgevision run network.rpk --source imx500 --web 8080   (Raspberry Pi AI Camera: the network runs on the sensor)

Sources: image, folder (sorted; --loop), video file, V4L2 camera index, http(s) MJPEG or rtsp URL,
picamera2[:main|:lores][:WxH], imx500[:WxH] (MODEL is then the .rpk, with labels.txt and imx500.json
beside it as edgevision deploy leaves them). Live sources are watched: a read that blocks for --read-timeout
seconds or a stream that ends is reconnected with backoff, and labels resume when it returns.
"""


def register(app: typer.Typer) -> None:
    @app.command(epilog=EPILOG)
    @handle_errors
    def run(
        model: Path = typer.Argument(..., help="A .tflite model file (a .rpk with --source imx500)."),
        source: str = typer.Option(..., "--source", "-s",
                                   help="Image, folder, video, camera index (0), picamera2[:lores] or http/rtsp URL."),
        labels: Path | None = typer.Option(None, "--labels", help="Labels file (overrides embedded labels)."),
        top_k: int = typer.Option(3, "--top-k", min=1, help="Classes per event."),
        threshold: float | None = typer.Option(None, "--threshold", min=0.0, max=1.0,
                                                help="Drop classes scoring below this (0..1)."),
        smooth: int = typer.Option(1, "--smooth", min=1, help="Moving average of scores over K frames."),
        threads: int | None = typer.Option(None, "--threads", min=1,
                                           help="Interpreter threads (default: cores, or cores-1 for live sources)."),
        delegate: str | None = typer.Option(None, "--delegate", help="cpu (default) or edgetpu[:usb:0|:pci:0]."),
        norm: str | None = typer.Option(None, "--norm", help="raw|unit|symmetric, for models without metadata."),
        realtime: bool | None = typer.Option(None, "--realtime/--no-realtime",
                                             help="Drop stale frames (default: on for cameras/URLs, off for files)."),
        max_frames: int | None = typer.Option(None, "--max-frames", min=1, help="Stop after N labels."),
        loop: bool = typer.Option(False, "--loop", help="Loop a folder source forever."),
        stdout: bool = typer.Option(True, "--stdout/--no-stdout", help="JSON lines on stdout."),
        out: Path | None = typer.Option(None, "--out", help="Also append the JSON lines to this file."),
        mqtt: str | None = typer.Option(None, "--mqtt",
                                        help="Publish to an MQTT broker: mqtt://user@host:port/topic "
                                             "(all but host optional; mqtts:// for TLS)."),
        mqtt_password_file: Path | None = typer.Option(None, "--mqtt-password-file",
                                                       help="MQTT password from this file (mode 600); or set "
                                                            "$EDGEVISION_MQTT_PASSWORD. Never shown or logged."),
        mqtt_ca: Path | None = typer.Option(None, "--mqtt-ca", help="CA bundle for mqtts:// (default: system's)."),
        mqtt_cert: Path | None = typer.Option(None, "--mqtt-cert", help="Client certificate for mqtts://."),
        mqtt_key: Path | None = typer.Option(None, "--mqtt-key", help="Client key for --mqtt-cert."),
        mqtt_node: str | None = typer.Option(None, "--mqtt-node", help="Device id in topics (default: hostname)."),
        mqtt_discovery: bool = typer.Option(True, "--mqtt-discovery/--no-mqtt-discovery",
                                            help="Publish Home Assistant discovery configs."),
        web: int | None = typer.Option(None, "--web", min=0, max=65535,
                                       help="Serve the live view on this port (0: any free port)."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address the live view binds to (0.0.0.0: all; "
                                                           "anything but loopback needs a token)."),
        web_token: str | None = typer.Option(None, "--web-token", envvar="EDGEVISION_WEB_TOKEN", show_envvar=False,
                                             help="Token the live view asks for (default beyond loopback: a new "
                                                  "one, printed once); or $EDGEVISION_WEB_TOKEN."),
        web_token_file: Path | None = typer.Option(None, "--web-token-file", help="Read the token from this file."),
        read_timeout: float = typer.Option(5.0, "--read-timeout", min=0.1,
                                           help="Seconds a capture call may block before it is abandoned."),
        give_up_after: float | None = typer.Option(None, "--give-up-after", min=0.0,
                                                   help="Exit 1 after this many seconds without frames (default: "
                                                        "retry forever)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary on stderr."),
    ) -> None:
        """Classify frames from a source and send one label event per frame to every output."""
        from edgevision.device.capture import ReconnectPolicy
        from edgevision.device.outputs import OutputOptions, build_outputs
        from edgevision.device.pipeline import Pipeline, PipelineOptions
        from edgevision.device.sources import open_source
        from edgevision.errors import BadInput, CheckFailed
        from edgevision.runtime.classifier import Classifier, ClassifierOptions
        from edgevision.runtime.interpreter import default_threads

        if source == "imx500" or source.startswith("imx500:"):  # the network runs on the AI Camera's sensor
            from edgevision.device.imx500_run import open_imx500

            src, clf = open_imx500(model, source, labels, top_k, threshold)
        else:
            src = open_source(source, loop=loop, timeout_s=read_timeout)
            live = src.live if realtime is None else realtime
            clf = Classifier(model, labels, ClassifierOptions(
                top_k=top_k, threshold=float("-inf") if threshold is None else threshold,
                threads=threads or default_threads(capture_thread=live), delegate=delegate, normalization=norm))
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
