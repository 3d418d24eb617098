"""Help renders on a device install (rich-argparse; option help is printed literally, never as rich markup:
``[default: …]`` and ``edgevision[device]`` have bitten before) and shows examples."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("command", ["run", "doctor", "bench", "bench report", "info", "device", "device activate",
                                     "device service", "deploy", "bundle"])
def test_help_renders_with_examples(cli, command: str) -> None:
    r = cli(*command.split(), "--help", timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "Examples:" in r.stdout and f"Usage: edgevision {command} " in r.stdout
    assert "\x1b[" not in r.stdout  # not a terminal: no colour codes
    if command == "run":
        for option in ("--mqtt", "--web", "--host", "--read-timeout", "--give-up-after", "--no-stdout", "--smooth",
                       "--no-realtime", "--no-mqtt-discovery"):
            assert option in r.stdout
        assert "[default: 3; at least 1]" in r.stdout and "[0 to 65535]" in r.stdout  # defaults and ranges
    if command == "deploy":
        assert "edgevision[device]" in r.stdout  # literally: not swallowed as a markup tag


def test_mqtt_url_parsing() -> None:
    from edgevision.errors import BadInput
    from edgevision.sinks.mqtt import MqttConfig

    c = MqttConfig.from_url("mqtts://user:p%40ss@broker.local/home/cam1", node_id="cam1")
    assert (c.host, c.port, c.base, c.username, c.password, c.tls) == ("broker.local", 8883, "home/cam1", "user",
                                                                        "p@ss", True)
    assert MqttConfig.from_url("mqtt://10.0.0.2", node_id="kitchen").base == "edgevision/kitchen"
    for bad in ("http://broker", "mqtt://", "mqtt://host:99999", "mqtt://host/a/#"):
        with pytest.raises(BadInput, match="--mqtt"):
            MqttConfig.from_url(bad)
