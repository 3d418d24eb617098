"""The sink registry: each kind of output, the options that configure it, and the module that opens it.

A line of :data:`SINKS` is data: the kind, a one-line summary, its option rows (the first one turns it
on: any value but None or False) and the dotted module whose ``open_sink(config, context)`` builds it,
imported only when a run asks for that kind. ``edgevision run``'s options, the checks on a bundle's
``--sink`` entries and the docs' option table are all generated from these rows, so adding a sink is
one module plus one line here.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from edgevision.limits import ROWS as LIMITS_BY_FIELD
from edgevision.optionspec import BUNDLE_FLAG, BUNDLE_VALUE, RunOption
from edgevision.sinks import option_checks as checks

if TYPE_CHECKING:
    from edgevision.sinks.fanout import FanOut


class SinkContext(NamedTuple):
    """What every sink may want to know about the run it serves."""

    model_name: str = "edgevision"
    quiet: bool = False      # nothing but events is printed (a token the user would need cannot be shown)
    labels: tuple[str, ...] = ()  # the model's labels: a repeated name is kept apart by index (MQTT topics, ids)
    release: str = ""        # the release a device's service runs (its id), "" for a plain run
    quantization: str = ""   # what the model's weights and activations are (int8, float32 ...), "" when unknown
    backend: str = ""        # the backend's registry name (runtime/backends.py)
    runtime: str = ""        # the runtime that runs the network and its version (ai-edge-litert 2.3.0)
    delegate: str = ""       # where the network runs (cpu, edgetpu:usb ...)
    drift_signals: tuple[str, ...] = ()  # the signals the run's drift monitor compares; () when none is watched


class SinkConfig(NamedTuple):
    """One sink of a run: its kind and the values of its options (a frozen mapping)."""

    kind: str
    options: tuple[tuple[str, Any], ...] = ()

    def value(self, name: str, default: Any = None) -> Any:
        return next((v for k, v in self.options if k == name), default)


class SinkKind(NamedTuple):
    """One kind of output in the registry."""

    kind: str
    module: str
    summary: str
    options: tuple[RunOption, ...]

    def enabled(self, values: Mapping[str, Any]) -> bool:
        value = values.get(self.options[0].name)
        return value is not None and value is not False  # (port 0 turns a sink on: 0 == False, but is not it)

    def config(self, values: Mapping[str, Any]) -> SinkConfig:
        return SinkConfig(self.kind, tuple((o.name, values.get(o.name, o.default)) for o in self.options))

    def open(self, config: SinkConfig, context: SinkContext) -> Any:
        return importlib.import_module(self.module).open_sink(config, context)


# A bundle sets values (a broker URL, a port), never a file for the device to read: the options that read a
# file name the device's own file instead (``device_file``: ROOT/secrets/<name>, see releases/device_secrets.py).
SINKS: tuple[SinkKind, ...] = (
    SinkKind("stdout", "edgevision.sinks.jsonl", "one JSON event per line on standard output", (
        RunOption("stdout", ("--stdout",), bool, True, "JSON lines on stdout.", negative="--no-stdout",
                  bundle=BUNDLE_FLAG),
    )),
    SinkKind("file", "edgevision.sinks.jsonl", "one JSON event per line, appended to a file", (
        RunOption("out", ("--out",), Path, None, "Also append the JSON lines to this file."),
    )),
    SinkKind("mqtt", "edgevision.sinks.mqtt",
             "an MQTT broker: retained state, per-label events, Home Assistant discovery", (
        RunOption("mqtt", ("--mqtt",), str, None,
                  "Publish to an MQTT broker: mqtt://user@host:port/topic (all but host optional; mqtts:// for TLS).",
                  bundle=BUNDLE_VALUE, check=checks.mqtt_url),
        RunOption("mqtt_password_file", ("--mqtt-password-file",), Path, None,
                  "MQTT password from this file (mode 600); or set $EDGEVISION_MQTT_PASSWORD. Never shown or logged."),
        RunOption("mqtt_credentials_file", ("--mqtt-credentials-file",), Path, None,
                  "MQTT user:password from this file (mode 600), instead of a user in the URL. Never shown or "
                  "logged.", device_file="mqtt-credentials"),
        RunOption("mqtt_ca", ("--mqtt-ca",), Path, None, "CA bundle for mqtts:// (default: system's).",
                  device_file="mqtt-ca.pem"),
        RunOption("mqtt_cert", ("--mqtt-cert",), Path, None, "Client certificate for mqtts://.",
                  device_file="mqtt-cert.pem"),
        RunOption("mqtt_key", ("--mqtt-key",), Path, None, "Client key for --mqtt-cert.", device_file="mqtt-key.pem"),
        RunOption("mqtt_node", ("--mqtt-node",), str, None, "Device id in topics (default: hostname).",
                  bundle=BUNDLE_VALUE, check=checks.node_id),
        RunOption("mqtt_discovery", ("--mqtt-discovery",), bool, True, "Publish Home Assistant discovery configs.",
                  negative="--no-mqtt-discovery", bundle=BUNDLE_FLAG),
    )),
    SinkKind("web", "edgevision.sinks.webview",
             "the live web view: video with labels drawn, Server-Sent Events, snapshots", (
        RunOption("web", ("--web",), int, None, "Serve the live view on this port (0: any free port).", min=0,
                  max=65535, bundle=BUNDLE_VALUE, check=checks.port),
        RunOption("host", ("--host",), str, "127.0.0.1",
                  "Address the live view binds to (0.0.0.0: all; anything but loopback needs a token).",
                  bundle=BUNDLE_VALUE, check=checks.host),
        RunOption("web_token", ("--web-token",), str, None,
                  "Token the live view asks for (default beyond loopback: a new one, printed once); or "
                  "$EDGEVISION_WEB_TOKEN.", envvar="EDGEVISION_WEB_TOKEN", secret=True),
        RunOption("web_token_file", ("--web-token-file",), Path, None, "Read the token from this file (mode 600).",
                  device_file="web-token"),
    )),
    SinkKind("metrics", "edgevision.sinks.prometheus",
             "Prometheus metrics: frames, drops, latency histograms, FPS, labels, confidence, drift, the board", (
        RunOption("metrics", ("--metrics",), int, None,
                  "Serve Prometheus metrics on this port at /metrics (0: any free port).", min=0, max=65535,
                  bundle=BUNDLE_VALUE, check=checks.port),
        RunOption("metrics_host", ("--metrics-host",), str, "127.0.0.1",
                  "Address the metrics endpoint binds to (anything but loopback needs a token).",
                  bundle=BUNDLE_VALUE, check=checks.host),
        RunOption("metrics_token", ("--metrics-token",), str, None,
                  "Bearer token the metrics endpoint asks for (default beyond loopback: a new one, printed once); or "
                  "$EDGEVISION_METRICS_TOKEN.", envvar="EDGEVISION_METRICS_TOKEN", secret=True),
        RunOption("metrics_token_file", ("--metrics-token-file",), Path, None,
                  "Read the metrics token from this file (mode 600; Prometheus: authorization.credentials_file).",
                  device_file="metrics-token"),
        RunOption("metrics_linger", ("--metrics-linger",), float, 0.0,
                  "When the source ends, keep serving until one more scrape, at most this many seconds (lets "
                  "Prometheus see a finite run's final counts).", min=0.0, max=3600.0),
    )),
    SinkKind("samples", "edgevision.sinks.samples",
             "frames worth labelling (low confidence, near-ties, drift), kept in a bounded, rotating folder", (
        RunOption("samples", ("--samples",), Path, None,
                  "Keep frames worth labelling in this folder (the service: ROOT/samples); pull them with "
                  "`edgevision device samples pull`."),
        RunOption("samples_max", ("--samples-max",), int, 500, "At most this many kept frames (0: keep none).",
                  min=0, max=LIMITS_BY_FIELD["samples"].default, bundle=BUNDLE_VALUE, check=checks.count),
        RunOption("samples_mb", ("--samples-mb",), float, 50.0, "At most this many megabytes of kept frames.",
                  min=0.1, max=1_000_000.0, bundle=BUNDLE_VALUE, check=checks.positive),
        RunOption("samples_every", ("--samples-every",), float, 10.0,
                  "At least this many seconds between two kept frames.", min=0.0, max=1e6,
                  bundle=BUNDLE_VALUE, check=checks.seconds),
        RunOption("samples_below", ("--samples-below",), float, 0.5, "Keep frames whose top score is below this.",
                  min=0.0, max=1.0, bundle=BUNDLE_VALUE, check=checks.fraction),
        RunOption("samples_margin", ("--samples-margin",), float, 0.1,
                  "Keep frames whose two best scores are closer than this (near-ties).", min=0.0, max=1.0,
                  bundle=BUNDLE_VALUE, check=checks.fraction),
    )),
)

SINK_OPTIONS: tuple[RunOption, ...] = tuple(o for kind in SINKS for o in kind.options)


class OutputsConfig(NamedTuple):
    """Where a run's events go: one entry per sink, in registry order."""

    sinks: tuple[SinkConfig, ...] = ()

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> "OutputsConfig":
        """The sinks that option values (by option name, as the CLI or a bundle gives them) turn on."""
        return cls(tuple(kind.config(values) for kind in SINKS if kind.enabled(values)))

    def kinds(self) -> tuple[str, ...]:
        return tuple(s.kind for s in self.sinks)


def by_kind(kind: str) -> SinkKind:
    for entry in SINKS:
        if entry.kind == kind:
            return entry
    raise KeyError(kind)


def open_outputs(config: OutputsConfig, context: SinkContext, extra: tuple[Any, ...] = ()) -> "FanOut":
    """Open every sink of ``config`` (then ``extra`` ones, already open); a sink that cannot even be
    configured is a usage error, and the ones opened before it are closed again."""
    from edgevision.sinks.fanout import FanOut  # here: reading the registry (run's --help) needs no NumPy

    sinks: list[Any] = []
    try:
        for sink in config.sinks:
            sinks.append(by_kind(sink.kind).open(sink, context))
    except BaseException:
        FanOut(sinks).close()
        raise
    return FanOut([*sinks, *extra])
