"""MQTT credentials and TLS (issue 12), against a real mosquitto with a password file and a TLS
listener: the password comes from a private file or the environment and is never echoed; mqtts://
verifies the broker with --mqtt-ca and can present a client certificate; a TLS mismatch and a
broker that is down are each logged once with their cause."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from edgevision.errors import BadInput
from edgevision.sinks.mqtt import MqttConfig, MqttSink
from edgevision.sinks.registry import OutputsConfig, SinkContext, open_outputs
from tests.conftest import need
from tests.device.conftest import free_port, wait_port

SECRET = "hunter2-Secret"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory):
    need(shutil.which("mosquitto") is not None and shutil.which("mosquitto_passwd") is not None,
         "mosquitto is not installed (Debian package mosquitto)")
    need(shutil.which("openssl") is not None, "openssl is not installed (Debian package openssl)")
    pytest.importorskip("paho.mqtt.client")
    d = tmp_path_factory.mktemp("mqtts")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
             "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    for name, cn in (("server", "127.0.0.1"), ("client", "edgevision-cam")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", str(d / f"{name}.key"),
                 "-out", str(d / f"{name}.csr"))
        ext = d / f"{name}.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1\n" if name == "server" else "extendedKeyUsage=clientAuth\n")
        _openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
                 "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(d / f"{name}.pem"))
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=other-ca",
             "-keyout", str(d / "other.key"), "-out", str(d / "other.pem"))
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(d / "passwd"), "cam", SECRET], check=True, timeout=30)
    plain, tls = free_port(), free_port()
    (d / "mosquitto.conf").write_text(
        # as root mosquitto would drop to a user who cannot read these files
        "per_listener_settings true\npersistence false\nuser root\n"

        f"listener {plain} 127.0.0.1\nallow_anonymous false\npassword_file {d / 'passwd'}\n"
        f"listener {tls} 127.0.0.1\nallow_anonymous true\ncafile {d / 'ca.pem'}\ncertfile {d / 'server.pem'}\n"
        f"keyfile {d / 'server.key'}\nrequire_certificate true\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(d / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(plain)
        wait_port(tls)
        yield {"dir": d, "plain": plain, "tls": tls}
    finally:
        proc.terminate()
        proc.wait(5)


def _connects(cfg: MqttConfig, timeout: float = 8.0) -> bool:
    sink = MqttSink(cfg)
    try:
        return sink.wait_connected(timeout)
    finally:
        sink.close()


def test_password_from_a_private_file_or_the_environment(broker, tmp_path: Path, monkeypatch, caplog) -> None:
    url = f"mqtt://cam@127.0.0.1:{broker['plain']}/ev/t"
    secret = tmp_path / "mqtt.pass"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o644)
    with pytest.raises(BadInput, match="chmod 600"):
        open_outputs(OutputsConfig.from_values({"mqtt": url, "mqtt_password_file": secret}), SinkContext())
    secret.chmod(0o600)
    fan = open_outputs(OutputsConfig.from_values({"mqtt": url, "mqtt_password_file": secret}), SinkContext())
    try:
        assert fan.sinks[0].wait_connected(8)
    finally:
        fan.close()
    monkeypatch.setenv("EDGEVISION_MQTT_PASSWORD", SECRET)
    fan = open_outputs(OutputsConfig.from_values({"stdout": False, "mqtt": url}), SinkContext())
    try:
        assert fan.sinks[0].wait_connected(8)
        assert SECRET not in repr(fan.sinks[0].config) and SECRET not in fan.sinks[0].name
    finally:
        fan.close()
    monkeypatch.setenv("EDGEVISION_MQTT_PASSWORD", "wrong-password")
    with caplog.at_level(logging.WARNING, "edgevision.mqtt"):
        assert not _connects(MqttConfig.from_url(url, password="wrong-password"), timeout=3)
    assert any("refused" in r.getMessage() for r in caplog.records)
    assert not any(SECRET in r.getMessage() or "wrong-password" in r.getMessage() for r in caplog.records)


def test_password_in_the_url_is_never_echoed(cli, models) -> None:
    for url in (f"mqtt://cam:{SECRET}@127.0.0.1:99999/t", f"mqtt://cam:{SECRET}@/t", f"mqtt://cam:{SECRET}@h/a+b"):
        with pytest.raises(BadInput) as exc:
            MqttConfig.from_url(url)
        assert SECRET not in str(exc.value) and "***" in str(exc.value)
    out = cli("run", models.int8, "--source", models.data / "test" / "star", "--mqtt",
              f"mqtt://cam:{SECRET}@127.0.0.1:99999/t")
    assert out.returncode == 2 and "invalid port" in out.stderr
    assert SECRET not in out.stderr + out.stdout


def test_mqtts_with_ca_and_client_certificate(broker) -> None:
    d = broker["dir"]
    url = f"mqtts://127.0.0.1:{broker['tls']}/ev/tls"
    assert _connects(MqttConfig.from_url(url, ca_file=str(d / "ca.pem"), cert_file=str(d / "client.pem"),
                                         key_file=str(d / "client.key")))
    with pytest.raises(BadInput, match="mqtts://"):
        MqttConfig.from_url(f"mqtt://127.0.0.1:{broker['tls']}/t", ca_file=str(d / "ca.pem"))
    with pytest.raises(BadInput, match="not found"):
        MqttConfig.from_url(url, ca_file=str(d / "missing.pem"))


def test_tls_mismatch_and_broker_down_are_logged_once_with_the_cause(broker, caplog) -> None:
    d = broker["dir"]
    with caplog.at_level(logging.WARNING, "edgevision.mqtt"):
        wrong_ca = MqttSink(MqttConfig.from_url(f"mqtts://127.0.0.1:{broker['tls']}/t", ca_file=str(d / "other.pem")))
        down = MqttSink(MqttConfig.from_url(f"mqtt://127.0.0.1:{free_port()}/t"))
        time.sleep(4.5)  # paho retries every 1-2 s meanwhile
        wrong_ca.close()
        down.close()
    messages = [r.getMessage() for r in caplog.records]
    tls = [m for m in messages if "certificate verification failed" in m]
    refused = [m for m in messages if "connection refused" in m]
    assert len(tls) == 1 and len(refused) == 1, messages


def test_bundle_sinks_for_credentials_and_tls(cli, models, broker, tmp_path: Path) -> None:
    """A bundle names the broker; its login and TLS files are the device's own (ROOT/secrets/), which the
    release's run configuration picks up at their fixed names."""
    from edgevision.releases.manifest import verify_bundle_dir
    from edgevision.sinks.mqtt import open_sink

    d = broker["dir"]
    out = cli("bundle", models.int8, "--profile", "x86-64", "--source", "0", "--sink",
              f"mqtt=mqtts://127.0.0.1:{broker['tls']}/t", "--out", tmp_path / "b")
    assert out.returncode == 0, out.stderr
    runtime = (tmp_path / "b" / "runtime.json").read_text()
    assert "/" + "etc" not in runtime and "file" not in runtime and "@" not in runtime
    assert os.stat(tmp_path / "b" / "runtime.json").st_mode & 0o777 == 0o644  # data only: no secret inside
    root = tmp_path / "device"
    for name, source in (("mqtt-ca.pem", "ca.pem"), ("mqtt-cert.pem", "client.pem"), ("mqtt-key.pem", "client.key")):
        done = cli("device", "secret", "set", name, "--from", d / source, "--root", root)
        assert done.returncode == 0, done.stderr
    assert (root / "secrets" / "mqtt-key.pem").stat().st_mode & 0o777 == 0o600
    assert (root / "secrets" / "mqtt-ca.pem").stat().st_mode & 0o777 == 0o644
    manifest = verify_bundle_dir(tmp_path / "b")
    config = manifest.runtime.run_config(tmp_path / "b", root / "labels.jsonl", root)
    (mqtt,) = [s for s in config.outputs.sinks if s.kind == "mqtt"]
    assert mqtt.value("mqtt_ca") == root / "secrets" / "mqtt-ca.pem"
    assert mqtt.value("mqtt_key") == root / "secrets" / "mqtt-key.pem"
    sink = open_sink(mqtt, SinkContext())
    try:
        assert sink.wait_connected(8)  # verified the broker with the device's CA, showed the device's certificate
    finally:
        sink.close()
