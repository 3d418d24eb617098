"""MQTT sink: a retained state topic, per-label events, and Home Assistant discovery.

Topics under ``base`` (``edgevision/<node>`` unless the URL gives a path):

- ``<base>/state`` (retained): the current label, score and top-k; sent when the label
  changes and otherwise at most every ``state_interval`` seconds.
- ``<base>/event/<label>``: one message each time ``<label>`` becomes the top label. A name the
  model's label list repeats (ImageNet's two ``crane``) is kept apart by index: ``<label>_<index>``.
- ``<base>/availability`` (retained): ``online``; the broker publishes ``offline`` (last
  will) if the device disappears; ``offline`` is also sent on a clean stop.
- ``<base>/source`` (retained): ``streaming`` / ``reconnecting`` as the camera comes and goes.
- ``homeassistant/sensor/<node>/{label,score}/config`` (retained): discovery, so Home
  Assistant shows a "label" and a "score" sensor with no YAML.
- ``<base>/stats`` (retained, at most every ``stats_interval`` seconds): frames per second and the mean
  glass-to-label latency since the last message; discovered as "FPS" and "Latency" sensors.
- ``<base>/drift`` (retained, when the drift monitor's state flips): ``{"state": "ok"|"drifting", "moved":
  [...], "psi": {...}}``; discovered as a "Drift" binary sensor (device class problem) when a monitor runs.

paho's network thread reconnects with backoff on its own; while the broker is down,
events are dropped and counted (a stale label is worth nothing) and the retained state
and discovery are re-sent on reconnect.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from edgevision.errors import BadInput, MissingDependency
from edgevision.limits import limits
from edgevision.pipeline.events import LabelEvent
from edgevision.sinks.registry import SinkConfig, SinkContext
from edgevision.sinks.secrets import read_secret_file, redact_url
from edgevision.sources.capture import CaptureStatus
from edgevision.version import __version__

if TYPE_CHECKING:
    from edgevision.pipeline.drift_event import DriftEvent

log = logging.getLogger("edgevision.mqtt")


def slug(text: str) -> str:
    """A topic-level- and Home-Assistant-safe id: letters, digits, _ and -."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "x"


@dataclass(frozen=True)
class MqttConfig:
    host: str
    port: int = 1883
    base: str = ""
    node_id: str = ""
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None      # CA bundle for mqtts:// (default: the system's)
    cert_file: str | None = None    # client certificate (mutual TLS)
    key_file: str | None = None
    qos: int = 1
    discovery_prefix: str | None = "homeassistant"
    state_interval: float = 1.0
    model_name: str = "edgevision"
    stats_interval: float = 5.0     # seconds between <base>/stats messages
    drift: bool = False             # a drift monitor runs: discover the binary sensor
    labels: tuple[str, ...] = ()    # the model's labels: names that repeat get their index in topics and ids

    @classmethod
    def from_url(cls, url: str, password: str | None = None, username: str | None = None,
                 **kwargs: Any) -> MqttConfig:
        """``mqtt://[user[:pass]@]host[:port][/base/topic]`` (``mqtts://`` for TLS, default port 8883).

        ``username`` and ``password`` (from --mqtt-credentials-file, --mqtt-password-file or
        $EDGEVISION_MQTT_PASSWORD) win over the URL's; errors show the URL with its password replaced by ``***``.
        """
        shown = redact_url(url)
        try:
            parts = urlsplit(url)
        except ValueError:
            raise BadInput(f"--mqtt {shown!r}: not a URL") from None
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise BadInput(f"--mqtt {shown!r}: expected mqtt://[user@]host[:port][/topic]")
        try:
            port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        except ValueError:
            raise BadInput(f"--mqtt {shown!r}: invalid port") from None
        node = kwargs.pop("node_id", None) or slug(socket.gethostname())
        base = parts.path.strip("/") or f"edgevision/{node}"
        if "+" in base or "#" in url:  # urlsplit would take a '#' for a fragment
            raise BadInput(f"--mqtt {shown!r}: the topic may not contain + or #")
        tls = parts.scheme == "mqtts"
        for opt, value in (("--mqtt-ca", kwargs.get("ca_file")), ("--mqtt-cert", kwargs.get("cert_file")),
                           ("--mqtt-key", kwargs.get("key_file"))):
            if value and not tls:
                raise BadInput(f"{opt}: TLS options need an mqtts:// URL (got {shown})")
            if value and not Path(value).is_file():
                raise BadInput(f"{opt} {value}: file not found")
        if bool(kwargs.get("key_file")) and not kwargs.get("cert_file"):
            raise BadInput("--mqtt-key needs --mqtt-cert (the client certificate it belongs to)")
        return cls(host=parts.hostname, port=port, base=base, node_id=node,
                   username=username or (unquote(parts.username) if parts.username else None),
                   password=password or (unquote(parts.password) if parts.password else None),
                   tls=tls, **kwargs)

    def __repr__(self) -> str:  # never the password, even in a debugger or a traceback
        return f"MqttConfig(host={self.host!r}, port={self.port}, base={self.base!r}, tls={self.tls})"


def connect_error(exc: BaseException | None) -> str:
    """A one-phrase cause for a failed connection: refused, unreachable, a TLS mismatch …"""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused: is the broker running on that port?"
    if isinstance(exc, socket.gaierror):
        return f"host name not resolved ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return "unknown error" if exc is None else type(exc).__name__


def bounded_client(mqtt: Any, max_packet: int, refused: Any) -> type:
    """paho's ``Client`` with a ceiling on what a broker may send.

    paho-mqtt 2.x has no setting for the size of an incoming packet: it reads whatever remaining length
    the broker announces (up to 256 MB) into memory, in pieces that it concatenates. MQTT 5's Maximum
    Packet Size only asks a well-behaved broker. The sink publishes and never subscribes, so a broker
    answers with a few bytes (CONNACK, PUBACK, PINGRESP). paho reads a packet's body with one
    ``_sock_recv(remaining length)`` call after its header; that is where the announced size is checked
    here, before a byte of the body is read: a larger packet drops the connection (paho then reconnects
    with its backoff) and is reported once. Tested against a broker that announces 256 MB.
    """
    class BoundedClient(mqtt.Client):  # type: ignore[misc, name-defined]
        def _sock_recv(self, bufsize: int) -> bytes:
            if bufsize > max_packet:
                refused(bufsize)
                raise ConnectionAbortedError(f"the broker announced a packet of {bufsize:,} bytes")
            return super()._sock_recv(bufsize)  # type: ignore[no-any-return]

    return BoundedClient


class MqttSink:
    """Publishes label events to an MQTT broker (paho-mqtt), reconnecting on its own."""

    def __init__(self, config: MqttConfig) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise MissingDependency("paho-mqtt", "mqtt", "the MQTT sink") from None
        self.config = c = config
        self.name = f"mqtt://{c.host}:{c.port}/{c.base}"
        self.dropped = 0
        self.published = 0
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._state: str | None = None
        self._source_state = "streaming"
        self._last_label: tuple[str, int] | None = None
        self._twice = {name for name, count in Counter(slug(x) for x in c.labels).items() if count > 1}
        self._last_state_at = 0.0
        self._oversize: int | None = None
        self._window = [0, 0.0, time.monotonic()]  # frames, summed latency (ms), start of the stats window
        self._retained: dict[str, str] = {}         # stats and drift: re-sent on reconnect like the state
        client = bounded_client(mqtt, limits().mqtt_packet_bytes, self._refused_packet)(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"edgevision-{c.node_id}-{id(self):x}")
        if c.username:
            client.username_pw_set(c.username, c.password)
        if c.tls:
            try:
                client.tls_set(ca_certs=c.ca_file, certfile=c.cert_file, keyfile=c.key_file)
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: a bad CA, cert or key file
                raise BadInput(f"--mqtt TLS files: {exc}") from None
        client.will_set(self.topic("availability"), "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_queued_messages_set(1000)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        self._problem: str | None = None
        self._client = client
        client.connect_async(c.host, c.port, keepalive=30)
        client.loop_start()

    def topic(self, leaf: str) -> str:
        return f"{self.config.base}/{leaf}"

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # paho network thread -------------------------------------------------------------------------------------------
    def _report(self, problem: str | None) -> None:
        """Log a problem once, then again only when the state changes (never once per retry)."""
        if problem == self._problem:
            return
        if problem is None:
            (log.warning if self._problem else log.info)("MQTT connected to %s", self.name)
        else:
            log.warning("MQTT %s: %s; retrying in the background", self.name, problem)
        self._problem = problem

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        # paho calls this inside its `except OSError:` block, so the cause is the exception being handled
        self._report(f"cannot connect ({connect_error(sys.exc_info()[1])})")

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if getattr(reason_code, "is_failure", False):
            self._report(f"the broker refused the connection ({reason_code})")
            return
        self._report(None)
        client.publish(self.topic("availability"), "online", qos=1, retain=True)
        client.publish(self.topic("source"), self._source_state, qos=1, retain=True)
        for topic, payload in self._discovery() + self._monitoring_discovery():
            client.publish(topic, payload, qos=1, retain=True)
        for topic, payload in list(self._retained.items()):
            client.publish(topic, payload, qos=1, retain=True)
        with self._lock:
            state = self._state
        if state is not None:
            client.publish(self.topic("state"), state, qos=1, retain=True)
        self._connected.set()  # only now: events published from the pipeline thread queue after these

    def _refused_packet(self, size: int) -> None:
        self._oversize = size

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        oversize, self._oversize = self._oversize, None
        if oversize is not None:
            self._report(f"the broker sent a packet of {oversize:,} bytes, over the {limits().mqtt_packet_bytes:,}"
                         " the sink accepts; disconnected (it reconnects with backoff)")
        elif self._connected.is_set():
            self._report(f"connection lost ({reason_code})")
        self._connected.clear()

    def _discovery(self) -> list[tuple[str, str]]:
        c = self.config
        if not c.discovery_prefix:
            return []
        device = {"identifiers": [f"edgevision_{c.node_id}"], "name": f"edgevision {c.node_id}",
                  "manufacturer": "edgevision", "model": c.model_name, "sw_version": __version__}
        common = {"state_topic": self.topic("state"), "availability_topic": self.topic("availability"),
                  "device": device}
        sensors = {
            "label": {"name": "Label", "value_template": "{{ value_json.label_id }}",
                      "json_attributes_topic": self.topic("state"), "icon": "mdi:tag"},
            "score": {"name": "Score", "value_template": "{{ (value_json.score * 100) | round(1) }}",
                      "unit_of_measurement": "%", "state_class": "measurement"},
        }
        return [(f"{c.discovery_prefix}/sensor/{slug(c.node_id)}/{key}/config",
                 json.dumps({**common, **body, "unique_id": f"edgevision_{slug(c.node_id)}_{key}",
                             "object_id": f"edgevision_{slug(c.node_id)}_{key}"}))
                for key, body in sensors.items()]

    def _monitoring_discovery(self) -> list[tuple[str, str]]:
        """Discovery of what watches the model: FPS, latency, and the drift binary sensor (with a monitor)."""
        c = self.config
        if not c.discovery_prefix:
            return []
        node = slug(c.node_id)
        device = {"identifiers": [f"edgevision_{c.node_id}"], "name": f"edgevision {c.node_id}",
                  "manufacturer": "edgevision", "model": c.model_name, "sw_version": __version__}
        common = {"availability_topic": self.topic("availability"), "device": device}
        stats = {"state_topic": self.topic("stats"), "state_class": "measurement"}
        entities = [
            ("sensor", "fps", {**stats, "name": "FPS", "value_template": "{{ value_json.fps }}",
                               "unit_of_measurement": "fps", "icon": "mdi:speedometer"}),
            ("sensor", "latency", {**stats, "name": "Latency", "value_template": "{{ value_json.latency_ms }}",
                                   "unit_of_measurement": "ms", "device_class": "duration"}),
        ]
        if c.drift:
            entities.append(("binary_sensor", "drift", {
                "name": "Drift", "state_topic": self.topic("drift"), "value_template": "{{ value_json.state }}",
                "payload_on": "drifting", "payload_off": "ok", "device_class": "problem",
                "json_attributes_topic": self.topic("drift")}))
        return [(f"{c.discovery_prefix}/{component}/{node}/{key}/config",
                 json.dumps({**common, **body, "unique_id": f"edgevision_{node}_{key}",
                             "object_id": f"edgevision_{node}_{key}"}))
                for component, key, body in entities]

    # pipeline thread -----------------------------------------------------------------------------------------------
    def _publish(self, topic: str, payload: str, retain: bool = False) -> None:
        if not self._connected.is_set():
            self.dropped += 1
            return
        info = self._client.publish(topic, payload, qos=self.config.qos, retain=retain)
        if info.rc != 0:
            self.dropped += 1
        else:
            self.published += 1

    def label_key(self, label: str, index: int) -> tuple[str, str]:
        """(topic level, display id) of a class: its name, with ``_<index>`` / `` #<index>`` when the name
        (or its topic-safe form) repeats in the model's labels."""
        if slug(label) in self._twice:
            return f"{slug(label)}_{index}", f"{label} #{index}"
        return slug(label), label

    def emit(self, event: LabelEvent) -> None:
        self._stats(event)
        now = time.monotonic()
        changed = (event.label, event.index) != self._last_label
        if not changed and now - self._last_state_at < self.config.state_interval:
            return
        level, label_id = self.label_key(event.label, event.index)
        body = {"label": event.label, "label_id": label_id, "score": round(event.score, 4), "index": event.index,
                "top_k": [p.to_dict() for p in event.top_k], "frame": event.frame, "t_emit": round(event.t_emit, 3),
                "latency_ms": round(event.latency_ms, 1)}
        state = json.dumps(body)
        with self._lock:
            self._state = state
        self._last_state_at = now
        self._publish(self.topic("state"), state, retain=True)
        if changed:
            self._last_label = (event.label, event.index)
            if event.label:
                self._publish(self.topic(f"event/{level}"), event.to_json())

    def _stats(self, event: LabelEvent) -> None:
        """Count the frame; every ``stats_interval`` seconds, publish FPS and mean latency since the last time."""
        window = self._window
        window[0] += 1
        window[1] += event.latency_ms
        now = time.monotonic()
        elapsed = now - window[2]
        if elapsed < self.config.stats_interval:
            return
        body = json.dumps({"fps": round(window[0] / elapsed, 2), "latency_ms": round(window[1] / window[0], 1),
                           "frames": window[0], "dropped": event.dropped})
        self._window = [0, 0.0, now]
        self._retained[self.topic("stats")] = body
        self._publish(self.topic("stats"), body, retain=True)

    def drift(self, event: DriftEvent) -> None:
        """The drift state, when it flips (retained: Home Assistant sees it after a restart)."""
        if not event.changed and self.topic("drift") in self._retained:
            return
        body = json.dumps({"state": event.state, "moved": list(event.moved),
                           "psi": {k: round(v, 3) for k, v in event.psi.items()}, "frame": event.frame})
        self._retained[self.topic("drift")] = body
        self._publish(self.topic("drift"), body, retain=True)

    def status(self, status: CaptureStatus) -> None:
        state = {"restored": "streaming", "gave_up": "offline"}.get(status.state, "reconnecting")
        if state != self._source_state:
            self._source_state = state
            self._publish(self.topic("source"), state, retain=True)

    def close(self) -> None:
        try:
            if self._connected.is_set():
                self._client.publish(self.topic("availability"), "offline", qos=1, retain=True).wait_for_publish(2)
        except (RuntimeError, ValueError) as exc:
            log.debug("MQTT offline message not sent: %s", exc)
        finally:
            self._client.disconnect()
            self._client.loop_stop()


MQTT_PASSWORD_ENV = "EDGEVISION_MQTT_PASSWORD"


def open_sink(config: SinkConfig, context: SinkContext) -> MqttSink:
    """The ``mqtt`` sink. The login comes from --mqtt-credentials-file (user:password; on a device, its
    ROOT/secrets/mqtt-credentials), else the password from --mqtt-password-file, $EDGEVISION_MQTT_PASSWORD or
    the URL, with the URL's user."""
    import os

    password_file, credentials_file = config.value("mqtt_password_file"), config.value("mqtt_credentials_file")
    username = None
    if credentials_file is not None:
        username, sep, password = read_secret_file(credentials_file, "--mqtt-credentials-file").partition(":")
        if not sep or not username:
            raise BadInput(f"--mqtt-credentials-file {credentials_file}: expected user:password on its first line")
    elif password_file is not None:
        password = read_secret_file(password_file, "--mqtt-password-file")
    else:
        password = os.environ.get(MQTT_PASSWORD_ENV) or None
    paths = {k: None if config.value(o) is None else str(config.value(o))
             for k, o in (("ca_file", "mqtt_ca"), ("cert_file", "mqtt_cert"), ("key_file", "mqtt_key"))}
    cfg = MqttConfig.from_url(config.value("mqtt"), password=password or None, username=username or None,
                              node_id=config.value("mqtt_node"),
                              discovery_prefix="homeassistant" if config.value("mqtt_discovery", True) else None,
                              model_name=context.model_name, labels=context.labels,
                              drift=bool(context.drift_signals), **paths)
    return MqttSink(cfg)
