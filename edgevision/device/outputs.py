"""Build the set of sinks a run asks for (stdout, file, MQTT, web view) as one FanOut."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgevision.device.sinks import FanOut, JsonlSink


@dataclass(frozen=True)
class OutputOptions:
    stdout: bool = True
    file: Path | None = None
    mqtt_url: str | None = None
    mqtt_node: str | None = None
    mqtt_discovery: bool = True
    web_port: int | None = None
    web_host: str = "127.0.0.1"
    model_name: str = "edgevision"


def build_outputs(opts: OutputOptions) -> FanOut:
    """Open every requested sink; a sink that cannot even be configured is a usage error (exit 2)."""
    sinks: list[Any] = []
    try:
        if opts.stdout:
            sinks.append(JsonlSink(sys.stdout))
        if opts.file is not None:
            sinks.append(JsonlSink(opts.file))
        if opts.mqtt_url:
            from edgevision.device.mqtt_sink import MqttConfig, MqttSink

            cfg = MqttConfig.from_url(opts.mqtt_url, node_id=opts.mqtt_node,
                                      discovery_prefix="homeassistant" if opts.mqtt_discovery else None,
                                      model_name=opts.model_name)
            sinks.append(MqttSink(cfg))
        if opts.web_port is not None:
            from edgevision.device.webview import WebView

            sinks.append(WebView(opts.web_host, opts.web_port, title=opts.model_name))
    except BaseException:
        FanOut(sinks).close()
        raise
    return FanOut(sinks)
