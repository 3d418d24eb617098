"""Build the set of sinks a run asks for (stdout, file, MQTT, web view) as one FanOut."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgevision.sinks.fanout import FanOut, JsonlSink
from edgevision.sinks.secrets import read_secret_file

MQTT_PASSWORD_ENV = "EDGEVISION_MQTT_PASSWORD"


@dataclass(frozen=True)
class OutputOptions:
    """Where label events go (stdout, a JSONL file, MQTT, the web view) and how each is reached."""

    stdout: bool = True
    file: Path | None = None
    mqtt_url: str | None = None
    mqtt_node: str | None = None
    mqtt_discovery: bool = True
    web_port: int | None = None
    web_host: str = "127.0.0.1"
    model_name: str = "edgevision"
    labels: tuple[str, ...] = ()    # the model's labels (a repeated name is kept apart by index in MQTT)
    mqtt_password_file: Path | None = None
    mqtt_ca: Path | None = None
    mqtt_cert: Path | None = None
    mqtt_key: Path | None = None
    web_token: str | None = None
    web_token_file: Path | None = None


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def mqtt_password(opts: OutputOptions) -> str | None:
    """--mqtt-password-file, else $EDGEVISION_MQTT_PASSWORD, else (None) whatever the URL says."""
    if opts.mqtt_password_file is not None:
        return read_secret_file(opts.mqtt_password_file, "--mqtt-password-file")
    return os.environ.get(MQTT_PASSWORD_ENV) or None


def build_outputs(opts: OutputOptions) -> FanOut:
    """Open every requested sink; a sink that cannot even be configured is a usage error (exit 2)."""
    sinks: list[Any] = []
    try:
        if opts.stdout:
            sinks.append(JsonlSink(sys.stdout))
        if opts.file is not None:
            sinks.append(JsonlSink(opts.file))
        if opts.mqtt_url:
            from edgevision.sinks.mqtt import MqttConfig, MqttSink

            cfg = MqttConfig.from_url(opts.mqtt_url, password=mqtt_password(opts), node_id=opts.mqtt_node,
                                      discovery_prefix="homeassistant" if opts.mqtt_discovery else None,
                                      model_name=opts.model_name, labels=tuple(opts.labels), ca_file=_str(opts.mqtt_ca),
                                      cert_file=_str(opts.mqtt_cert), key_file=_str(opts.mqtt_key))
            sinks.append(MqttSink(cfg))
        if opts.web_port is not None:
            from edgevision.sinks.webview import WebView

            token = read_secret_file(opts.web_token_file, "--web-token-file") if opts.web_token_file \
                else opts.web_token
            sinks.append(WebView(opts.web_host, opts.web_port, title=opts.model_name, token=token))
    except BaseException:
        FanOut(sinks).close()
        raise
    return FanOut(sinks)
