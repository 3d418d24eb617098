"""Secrets a bundle cannot choose: a bundle never names a file for the device to read and never carries
credentials; the device keeps them at fixed names under ROOT/secrets/ with checked modes, and its service
reads them itself. Credentials in any URL are removed from every output (events on stdout, --out, the
labels log, MQTT payloads, the web view's /latest.json, error lines and summaries). Against real servers on
loopback: mosquitto with a password file, an MJPEG camera that asks for HTTP Basic authentication."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import need
from tests.device.conftest import Subscriber, env, free_port, wait_port

SECRET = "Broker-Secret-9f3e"
CAMERA_PW = "Camera-Secret-77aa"


def _error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def _leaks(secret: str, *texts: str, root: Path | None = None, allowed: tuple[Path, ...] = ()) -> list[str]:
    """Where ``secret`` shows up: in any of ``texts`` or in any file under ``root`` but ``allowed``."""
    found = [f"output {i}" for i, t in enumerate(texts) if secret in t]
    if root is not None:
        for p in root.rglob("*"):
            if p.is_file() and not p.is_symlink() and p not in allowed and secret.encode() in p.read_bytes():
                found.append(str(p))
    return found


@pytest.fixture()
def broker(tmp_path: Path):
    """mosquitto that admits only user ``cam`` with :data:`SECRET`."""
    need(shutil.which("mosquitto") is not None and shutil.which("mosquitto_passwd") is not None,
         "mosquitto is not installed (Debian package mosquitto)")
    pytest.importorskip("paho.mqtt.client")
    d = tmp_path / "broker"
    d.mkdir()
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(d / "passwd"), "cam", SECRET], check=True, timeout=30)
    port = free_port()
    (d / "mosquitto.conf").write_text(f"per_listener_settings true\npersistence false\nuser root\n"
                                      f"listener {port} 127.0.0.1\nallow_anonymous false\n"
                                      f"password_file {d / 'passwd'}\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(d / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(5)


def _serve(root: Path, seconds: float) -> subprocess.CompletedProcess[str]:
    """`edgevision device serve` (what the service runs) for a while, then SIGTERM."""
    proc = subprocess.Popen([sys.executable, "-m", "edgevision", "device", "serve", "--root", str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    try:
        out, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _install(cli, bundle: Path, root: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    for args in (("install", bundle), ("activate", manifest["id"])):
        out = cli("device", *args, "--root", root)
        assert out.returncode == 0, out.stderr


def test_a_bundle_never_names_a_file_to_read_nor_carries_credentials(cli, models, tmp_path: Path) -> None:
    base = ["bundle", models.int8, "--profile", "x86-64", "--source", "0"]
    for sink, where in (("mqtt-password-file=/home/pi/.git-credentials", "mqtt-credentials"),
                        ("mqtt-credentials-file=/home/pi/.git-credentials", "mqtt-credentials"),
                        ("mqtt-ca=/etc/ssl/private/key.pem", "mqtt-ca.pem"),
                        ("mqtt-key=/home/pi/.ssh/id_ed25519", "mqtt-key.pem"),
                        ("web-token-file=/home/pi/.netrc", "web-token")):
        _error(cli(*base, "--sink", sink, "--out", tmp_path / "b"), 2, "never names a file", where)
    _error(cli(*base, "--sink", "mqtt=mqtt://cam@broker/t", "--out", tmp_path / "b"), 2, "mqtt-credentials")
    line = _error(cli("bundle", models.int8, "--profile", "x86-64", "--source",
                      f"rtsp://admin:{CAMERA_PW}@cam.local/stream", "--out", tmp_path / "b"), 2, "source-credentials")
    assert CAMERA_PW not in line and "admin" not in line and "rtsp://cam.local/stream" in line
    assert not (tmp_path / "b").exists()


def test_device_secrets_reach_the_broker_and_nothing_else(cli, models, broker: int, tmp_path: Path) -> None:
    root = tmp_path / "device"
    bundle = tmp_path / "b"
    out = cli("bundle", models.int8, "--profile", "x86-64", "--source", models.data / "test" / "star", "--loop",
              "--sink", f"mqtt=mqtt://127.0.0.1:{broker}/ev/cam", "--out", bundle)
    assert out.returncode == 0, out.stderr
    stored = cli("device", "secret", "set", "mqtt-credentials", "--root", root, input=f"cam:{SECRET}\n")
    assert stored.returncode == 0 and SECRET not in stored.stdout + stored.stderr, stored.stderr
    secret = root / "secrets" / "mqtt-credentials"
    assert secret.stat().st_mode & 0o777 == 0o600 and (root / "secrets").stat().st_mode & 0o777 == 0o700
    _install(cli, bundle, root)
    sub = Subscriber(broker, ["ev/cam/state"], login=("cam", SECRET))  # nobody else gets in
    try:
        served = _serve(root, 12)
        got = sub.collect(1, lambda msgs: bool(msgs))
    finally:
        sub.close()
    assert got, f"no state from the service: it did not log in with the device's credentials: {served.stderr[-2000:]}"
    listed = cli("device", "secret", "list", "--root", root, "--json")
    assert {r["name"]: r["present"] for r in json.loads(listed.stdout)}["mqtt-credentials"]
    assert not _leaks(SECRET, served.stdout, served.stderr, listed.stdout, root=root, allowed=(secret,))
    secret.chmod(0o644)  # readable by every user: refused, and said how to fix it
    _error(_serve(root, 60), 2, "chmod 600", str(secret))
    secret.chmod(0o600)
    secret.unlink()
    secret.symlink_to(tmp_path / "elsewhere")  # a link could point anywhere: refused
    (tmp_path / "elsewhere").write_text(f"cam:{SECRET}\n")
    _error(_serve(root, 60), 2, "link")


def test_url_credentials_are_used_to_connect_and_shown_nowhere(cli, models, mjpeg_server, mosquitto,
                                                               tmp_path: Path) -> None:
    camera = mjpeg_server(models.data / "test" / "star", fps=20, auth=f"admin:{CAMERA_PW}").start()
    mosquitto.start()
    plain = camera.url
    with_credentials = plain.replace("http://", f"http://admin:{CAMERA_PW}@")
    labels = tmp_path / "labels.jsonl"
    web = free_port()
    sub = Subscriber(mosquitto.port, ["ev/#"])
    proc = subprocess.Popen([sys.executable, "-m", "edgevision", "run", str(models.int8), "--source", with_credentials,
                             "--out", str(labels), "--mqtt", f"mqtt://127.0.0.1:{mosquitto.port}/ev",
                             "--web", str(web), "--max-frames", "60"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env())
    try:
        wait_port(web, 30)
        time.sleep(1.0)
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/latest.json", timeout=5) as r:
            latest = r.read().decode()
        out, err = proc.communicate(timeout=60)
        messages = sub.collect(2, lambda m: any("/event/" in t for t, _, _ in m))
    finally:
        sub.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    events = [json.loads(line) for line in out.splitlines()]
    assert events and all(e["source"] == plain for e in events)
    assert json.loads(latest)["source"] == plain
    assert all(json.loads(line)["source"] == plain for line in labels.read_text().splitlines())
    payloads = [p for t, p, _ in messages if "/event/" in t]
    assert payloads and all(json.loads(p)["source"] == plain for p in payloads)
    assert not _leaks(CAMERA_PW, out, err, latest, *(p for _, p, _ in messages), labels.read_text())
    assert plain in err  # the summary names the camera, without its credentials
    camera.kill()  # the camera goes away: the error line names it without credentials too
    gone = cli("run", models.int8, "--source", with_credentials, "--read-timeout", "1", "--give-up-after", "2",
               timeout=60)
    assert gone.returncode in (1, 2) and "Traceback" not in gone.stderr
    assert not _leaks(CAMERA_PW, gone.stdout, gone.stderr) and "admin" not in gone.stderr


def test_the_service_logs_in_to_its_camera_with_the_device_credentials(cli, models, mjpeg_server,
                                                                      tmp_path: Path) -> None:
    camera = mjpeg_server(models.data / "test" / "star", fps=20, auth=f"admin:{CAMERA_PW}").start()
    root, bundle = tmp_path / "device", tmp_path / "b"
    out = cli("bundle", models.int8, "--profile", "x86-64", "--source", camera.url, "--out", bundle)
    assert out.returncode == 0, out.stderr
    _install(cli, bundle, root)
    without = _serve(root, 60)  # no credentials on the device yet: the camera refuses
    assert without.returncode != 0 and "Traceback" not in without.stderr
    stored = cli("device", "secret", "set", "source-credentials", "--root", root, input=f"admin:{CAMERA_PW}\n")
    assert stored.returncode == 0, stored.stderr
    served = _serve(root, 8)
    events = [json.loads(line) for line in (root / "labels.jsonl").read_text().splitlines()]
    assert events, served.stderr[-2000:]
    assert all(e["source"] == camera.url for e in events)
    assert not _leaks(CAMERA_PW, served.stdout, served.stderr, root=root,
                      allowed=(root / "secrets" / "source-credentials",))
