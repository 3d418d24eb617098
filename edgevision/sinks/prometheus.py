"""Prometheus metrics: what a run does, in the exposition format, at ``http://HOST:PORT/metrics``.

Exported (every name starts ``edgevision_`` except the process's own):

- ``edgevision_frames_total``, ``edgevision_dropped_frames_total``, ``edgevision_unlabelled_frames_total``
  (below ``--threshold``), ``edgevision_labels_total{label}`` (one series per class of the model, from 0);
- ``edgevision_source_up``, ``edgevision_source_reconnects_total``;
- ``edgevision_stage_seconds{stage}`` (capture, preprocess, infer, post) and
  ``edgevision_glass_to_label_seconds`` histograms; ``edgevision_top1_confidence`` histogram;
- ``edgevision_fps`` (over the last ten seconds), ``edgevision_last_frame_timestamp_seconds``;
- ``edgevision_model_info{model,release,quantization,backend,runtime,delegate}``;
- ``edgevision_drifting``, ``edgevision_drift_psi{signal}``, ``edgevision_drift_window_frames`` when a drift
  monitor runs;
- ``edgevision_soc_temperature_celsius{zone,type}`` and, on a Raspberry Pi,
  ``edgevision_throttled{condition,since_boot}``; ``process_resident_memory_bytes``,
  ``process_cpu_seconds_total`` and the rest of prometheus_client's process collector.

The pipeline thread only adds to plain counters (a bisect and a few integer increments per event, no
lock, no allocation beyond Python's own floats); the families are built when Prometheus scrapes, in the
endpoint's thread. A snapshot copies each histogram's bucket list in one step, so its buckets and count
always agree. The endpoint binds to loopback unless told otherwise and then asks for a token exactly as
the live view does (``Authorization: Bearer``, which Prometheus sends from ``authorization``).
"""

from __future__ import annotations

import io
import logging
import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgevision.errors import BadInput, MissingDependency
from edgevision.pipeline.events import LabelEvent
from edgevision.sinks import web_auth
from edgevision.sinks.board_health import THERMAL_ROOT, Throttling, temperatures
from edgevision.sinks.registry import SinkConfig, SinkContext
from edgevision.sinks.secrets import read_secret_file
from edgevision.sources.capture import CaptureStatus

if TYPE_CHECKING:
    from edgevision.pipeline.drift_event import DriftEvent

log = logging.getLogger("edgevision.metrics")

STAGES = ("capture", "preprocess", "infer", "post")
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25,
                   0.5, 1.0, 2.5)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
FPS_WINDOW_S = 10.0
TOKEN_ENV = "EDGEVISION_METRICS_TOKEN"

# Every family the endpoint can export, with its type: the docs' table and the Grafana dashboard's test read it.
METRIC_NAMES: dict[str, str] = {
    "edgevision_frames_total": "counter", "edgevision_dropped_frames_total": "counter",
    "edgevision_unlabelled_frames_total": "counter", "edgevision_labels_total": "counter",
    "edgevision_source_up": "gauge", "edgevision_source_reconnects_total": "counter",
    "edgevision_stage_seconds": "histogram", "edgevision_glass_to_label_seconds": "histogram",
    "edgevision_top1_confidence": "histogram", "edgevision_fps": "gauge",
    "edgevision_last_frame_timestamp_seconds": "gauge", "edgevision_model_info": "gauge",
    "edgevision_drifting": "gauge", "edgevision_drift_psi": "gauge", "edgevision_drift_window_frames": "gauge",
    "edgevision_soc_temperature_celsius": "gauge", "edgevision_throttled": "gauge",
    "process_resident_memory_bytes": "gauge", "process_virtual_memory_bytes": "gauge",
    "process_cpu_seconds_total": "counter", "process_start_time_seconds": "gauge",
    "process_open_fds": "gauge", "process_max_fds": "gauge",
}


class Histogram:
    """Bucket counts and a sum: ``observe`` is a bisect and two additions (the pipeline thread's share)."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)   # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # le semantics: value <= bound
        self.total += value

    def snapshot(self) -> tuple[list[tuple[str, float]], float]:
        counts, total = list(self.counts), self.total  # one copy: buckets and count agree
        cumulative, buckets = 0, []
        for bound, n in zip((*self.bounds, float("inf")), counts, strict=True):
            cumulative += n
            buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), float(cumulative)))
        return buckets, total


class RunMetrics:
    """The counters a run's events feed, and the Prometheus collector that reads them."""

    def __init__(self, context: SinkContext, thermal_root: Path = THERMAL_ROOT, vcgencmd: str | None = None) -> None:
        self.context = context
        self.frames = 0
        self.dropped = 0
        self.unlabelled = 0
        self.reconnects = 0
        self.source_up = 1
        self.last_t = 0.0
        self.labels: dict[str, int] = dict.fromkeys(context.labels, 0)
        self.stages = tuple((name, Histogram(LATENCY_BUCKETS)) for name in STAGES)
        self.latency = Histogram(LATENCY_BUCKETS)
        self.confidence = Histogram(CONFIDENCE_BUCKETS)
        self.drift: DriftEvent | None = None
        self._ticks: deque[tuple[float, int]] = deque(maxlen=int(FPS_WINDOW_S) + 2)
        self._tick_t = 0.0
        self.thermal_root = thermal_root
        self.throttling = Throttling(vcgencmd)

    # pipeline thread ----------------------------------------------------------------------------------------------
    def add(self, event: LabelEvent) -> None:
        self.frames += 1
        self.dropped = event.dropped
        ms = event.ms
        for name, hist in self.stages:
            value = ms.get(name)
            if value is not None:
                hist.observe(value * 1e-3)
        t = event.t_emit
        self.latency.observe(t - event.t_capture)
        label = event.label
        if label:
            self.labels[label] = self.labels.get(label, 0) + 1
        else:
            self.unlabelled += 1
        self.confidence.observe(event.score)
        self.last_t = t
        if t - self._tick_t >= 1.0:  # one (time, frames) point a second for the FPS gauge
            self._ticks.append((t, self.frames))
            self._tick_t = t

    def fps(self) -> float:
        ticks = list(self._ticks)
        if not ticks:
            return 0.0
        now_t, now_n = self.last_t, self.frames
        if time.time() - now_t > FPS_WINDOW_S:
            return 0.0  # nothing for a while: not the rate of long ago
        first_t, first_n = next(((t, n) for t, n in ticks if now_t - t <= FPS_WINDOW_S), ticks[-1])
        return (now_n - first_n) / (now_t - first_t) if now_t > first_t else 0.0

    # scraping thread ----------------------------------------------------------------------------------------------
    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        c = self.context
        yield CounterMetricFamily("edgevision_frames", "Frames labelled.", value=self.frames)
        yield CounterMetricFamily("edgevision_dropped_frames", "Frames the source delivered that were dropped "
                                  "because the model was busy (live sources).", value=self.dropped)
        yield CounterMetricFamily("edgevision_unlabelled_frames", "Frames whose top score was below --threshold.",
                                  value=self.unlabelled)
        labels = CounterMetricFamily("edgevision_labels", "Frames by top-1 label.", labels=["label"])
        for name, n in list(self.labels.items()):
            labels.add_metric([name], n)
        yield labels
        yield GaugeMetricFamily("edgevision_source_up", "1 while the source delivers frames, 0 while it is being "
                                "reconnected.", value=self.source_up)
        yield CounterMetricFamily("edgevision_source_reconnects", "Times the source was reconnected.",
                                  value=self.reconnects)
        stages = HistogramMetricFamily("edgevision_stage_seconds", "Time per frame in each stage.", labels=["stage"])
        for name, hist in self.stages:
            buckets, total = hist.snapshot()
            stages.add_metric([name], buckets, total)
        yield stages
        latency = HistogramMetricFamily("edgevision_glass_to_label_seconds",
                                        "Capture to label: how old a label is when it is emitted.")
        latency.add_metric([], *self.latency.snapshot())
        yield latency
        confidence = HistogramMetricFamily("edgevision_top1_confidence", "Score of the top-1 label.")
        confidence.add_metric([], *self.confidence.snapshot())
        yield confidence
        yield GaugeMetricFamily("edgevision_fps", f"Frames labelled per second over the last {FPS_WINDOW_S:g} s.",
                                value=round(self.fps(), 3))
        yield GaugeMetricFamily("edgevision_last_frame_timestamp_seconds", "Unix time of the latest label.",
                                value=self.last_t)
        info = GaugeMetricFamily("edgevision_model_info", "The model this run serves (value 1).",
                                 labels=["model", "release", "quantization", "backend", "runtime", "delegate"])
        info.add_metric([c.model_name, c.release, c.quantization, c.backend, c.runtime, c.delegate], 1)
        yield info
        yield from self._drift()
        yield from self._board()

    def _drift(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        if not self.context.drift_signals:
            return
        drift = self.drift
        yield GaugeMetricFamily("edgevision_drifting", "1 while the drift monitor says drifting, else 0.",
                                value=1 if drift is not None and drift.drifting else 0)
        psi = GaugeMetricFamily("edgevision_drift_psi", "Population stability index of each signal against the "
                                "reference profile, over the latest window.", labels=["signal"])
        for name in self.context.drift_signals:
            value = drift.psi.get(name) if drift is not None else None
            psi.add_metric([name], float("nan") if value is None else value)
        yield psi
        yield GaugeMetricFamily("edgevision_drift_window_frames", "Frames in the drift monitor's window.",
                                value=drift.window if drift is not None else 0)

    def _board(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        temps = temperatures(self.thermal_root)
        if temps:
            family = GaugeMetricFamily("edgevision_soc_temperature_celsius", "Temperature of each thermal zone.",
                                       labels=["zone", "type"])
            for t in temps:
                family.add_metric([t.zone, t.kind], t.celsius)
            yield family
        flags = self.throttling.read()
        if flags is not None:
            family = GaugeMetricFamily("edgevision_throttled", "Raspberry Pi firmware flags (vcgencmd "
                                       "get_throttled): 1 when set, now or since boot.",
                                       labels=["condition", "since_boot"])
            for (name, since), on in flags.items():
                family.add_metric([name, "true" if since else "false"], 1 if on else 0)
            yield family


class MetricsSink:
    """A sink that counts events into :class:`RunMetrics` and serves them over HTTP; ``url`` says where."""

    def __init__(self, context: SinkContext, host: str = "127.0.0.1", port: int = 9464, token: str | None = None,
                 max_clients: int = 8, timeout: float = 10.0, thermal_root: Path = THERMAL_ROOT,
                 vcgencmd: str | None = None, linger: float = 0.0) -> None:
        try:
            from prometheus_client import CollectorRegistry, ProcessCollector
        except ImportError:
            raise MissingDependency("prometheus-client", "metrics", "the metrics endpoint") from None
        self.generated_token = token is None and not web_auth.is_loopback(host)
        self.token = web_auth.new_token() if self.generated_token else token
        if self.token is not None and (len(self.token) < 8 or not self.token.isprintable() or " " in self.token):
            raise BadInput("--metrics-token: at least 8 printable characters, no spaces")
        self.metrics = RunMetrics(context, thermal_root, vcgencmd)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.metrics)  # type: ignore[arg-type]  # anything with collect() is a collector
        ProcessCollector(registry=self.registry)
        self.timeout, self._allowed_hosts = timeout, web_auth.host_names()
        self.linger = linger
        self._scrapes = threading.Condition()
        self._begun = 0       # scrapes begun so far (numbered from 1)
        self._finished = 0    # the highest number of a scrape fully served
        try:
            self._server = web_auth.BoundedServer((host, port), self._handler(), max_clients)
        except OSError as exc:
            raise BadInput(f"--metrics {host}:{port}: cannot listen ({exc.strerror or exc})") from None
        self.host, self.port = host, int(self._server.server_address[1])
        self.name = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="edgevision-metrics", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def announce(self) -> str:
        return f"metrics: {self.url}" + (f" (bearer token {self.token})" if self.generated_token else "")

    def emit(self, event: LabelEvent) -> None:
        self.metrics.add(event)

    def status(self, status: CaptureStatus) -> None:
        m = self.metrics
        if status.state == "restored":
            m.reconnects += 1
            m.source_up = 1
        else:
            m.source_up = 0

    def drift(self, event: DriftEvent) -> None:
        self.metrics.drift = event

    def close(self) -> None:
        """Stop serving; with ``linger``, first wait (at most that long) for a scrape that began after the last
        event, so a finite run's final counts reach Prometheus."""
        if self.linger > 0:
            with self._scrapes:
                mark = self._begun
                self._scrapes.wait_for(lambda: self._finished > mark, timeout=self.linger)
        self._server.shutdown()
        self._server.server_close()

    def _begin(self) -> int:
        with self._scrapes:
            self._begun += 1
            return self._begun

    def _served(self, number: int) -> None:
        with self._scrapes:
            self._finished = max(self._finished, number)
            self._scrapes.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            """The live view's rules (web_auth): a deadline for each request head, Host and token checked
            before anything is served, member slots only for a request that passed them."""

            protocol_version = "HTTP/1.1"
            timeout = sink.timeout  # for writes: a client that stops reading gives its thread back
            server: web_auth.BoundedServer

            def setup(self) -> None:
                super().setup()
                self.rfile.close()  # the plain socket file: reads go through the head's deadline instead
                self._head = web_auth.HeadReader(self.connection)
                self.rfile = io.BufferedReader(self._head)

            def handle_one_request(self) -> None:
                self._head.start(sink.timeout)
                super().handle_one_request()

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s %s", self.address_string(), format % args)

            def _send(self, body: bytes, ctype: str, code: int = 200) -> None:
                challenge = (("WWW-Authenticate", 'Bearer realm="edgevision"'),) if code == 401 else ()
                web_auth.send_body(self, body, ctype, code, challenge)

            def do_GET(self) -> None:
                from prometheus_client.exposition import choose_encoder

                self.connection.settimeout(sink.timeout)  # the head is in: from here on, writes
                path = self.path.split("?", 1)[0]
                try:
                    if not web_auth.host_allowed(self.headers.get("Host"), sink._allowed_hosts):
                        self._send(b"unknown Host\n", "text/plain", 421)
                    elif not web_auth.token_ok(sink.token, web_auth.request_token(self.path, self.headers)):
                        self._send(b"a token is required (Authorization: Bearer TOKEN)\n", "text/plain", 401)
                    elif not self.server.admit(self.connection):
                        self.close_connection = True
                        self._send(b"too many scrapers; retry later\n", "text/plain", 503)
                    elif path == "/metrics":
                        number = sink._begin()
                        encoder, ctype = choose_encoder(self.headers.get("Accept") or "")
                        self._send(encoder(sink.registry), ctype)
                        sink._served(number)
                    elif path == "/":
                        self._send(b"edgevision: Prometheus metrics at /metrics\n", "text/plain; charset=utf-8")
                    else:
                        self._send(b"not found\n", "text/plain", 404)
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    pass

        return Handler


def open_sink(config: SinkConfig, context: SinkContext) -> MetricsSink:
    """The ``metrics`` sink: /metrics on ``--metrics`` PORT at ``--metrics-host``, a token beyond loopback."""
    import os

    host, token_file = config.value("metrics_host", "127.0.0.1"), config.value("metrics_token_file")
    token = read_secret_file(token_file, "--metrics-token-file") if token_file else \
        config.value("metrics_token") or os.environ.get(TOKEN_ENV) or None
    if token is None and not web_auth.is_loopback(host) and context.quiet:
        raise BadInput(f"--metrics-host {host}: metrics beyond loopback need a token, and --quiet would hide the "
                       "generated one; pass --metrics-token-file FILE (or $EDGEVISION_METRICS_TOKEN)")
    return MetricsSink(context, host, int(config.value("metrics")), token=token,
                       linger=float(config.value("metrics_linger") or 0.0))
