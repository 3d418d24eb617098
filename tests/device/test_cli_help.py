"""`run` and `doctor` help renders (rich markup in option help has bitten before) and shows examples."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("command", ["run", "doctor"])
def test_help_renders_with_examples(cli, command: str) -> None:
    r = cli(command, "--help", timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Examples" in r.stdout and "Traceback" not in r.stderr
    if command == "run":
        for option in ("--mqtt", "--web", "--host", "--read-timeout", "--give-up-after", "--no-stdout", "--smooth"):
            assert option in r.stdout


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
