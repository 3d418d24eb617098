"""The service path where systemd is not PID 1: edgevision's supervisor runs the rendered unit.

It restarts a killed pipeline after RestartSec, rotates the labels file before each start
(ExecStartPre), and stops everything it started. Runs in the TF-free device venv.
"""

from __future__ import annotations

import getpass
import json
import os
import signal
import time
from pathlib import Path

import pytest

from edgevision.deploy.bundle import BundleOptions, make_bundle
from edgevision.errors import CheckFailed
from edgevision.profiles import load_profile
from edgevision.releases.unit import parse_unit
from tests.conftest import REPO
from tests.deploy.conftest import device_cli


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def _wait(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def test_supervisor_restarts_rotates_and_stops(models, camera, device_python, device_root, tmp_path) -> None:
    profile = tmp_path / "fast.toml"  # x86-64 with a 1 s restart delay and a 1 MiB labels file
    text = (REPO / "device" / "profiles" / "x86-64.toml").read_text()
    profile.write_text(text.replace("restart_sec = 5", "restart_sec = 1").replace("labels_max_mb = 64",
                                                                                 "labels_max_mb = 1"))
    bundle = tmp_path / "b.tar.gz"
    manifest = make_bundle(models.int8, load_profile(profile), BundleOptions(source=camera), bundle)
    device_root.mkdir()
    (device_root / "labels.jsonl").write_text('{"label": "old"}\n' * 70_000)  # > 1 MiB: rotated on start
    dev = device_cli(device_python)
    out = dev("device", "install", bundle, "--root", device_root)
    assert out.returncode == 0, out.stderr
    out = dev("device", "activate", manifest.id, "--root", device_root, "--service", "--manager", "supervisor",
              "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["first_label"]["source"] == camera
    assert (device_root / "labels.jsonl.1").stat().st_size > 1024 * 1024
    assert '"old"' not in (device_root / "labels.jsonl").read_text()

    def status() -> dict:
        s = dev("device", "status", "--root", device_root, "--json")
        assert s.returncode == 0, s.stderr
        return json.loads(s.stdout)

    st = status()["service"]
    assert st["manager"] == "supervisor" and st["state"] == "running" and st["restarts"] == 0
    first_pid = st["main_pid"]
    unit = parse_unit((device_root / "service" / "edgevision.service").read_text(), "unit")
    assert any(k == "ExecStartPre" and "labels-rotate" in v for k, v in unit["Service"])
    supervisor_pid = int((device_root / "service" / "supervisor.pid").read_text())

    os.kill(first_pid, signal.SIGKILL)  # the pipeline dies: the supervisor brings it back
    st = _wait(lambda: (s := status()["service"])["main_pid"] not in (None, first_pid) and s)
    assert st["restarts"] == 1 and st["last_exit"] == -signal.SIGKILL
    size = (device_root / "labels.jsonl").stat().st_size
    _wait(lambda: (device_root / "labels.jsonl").stat().st_size > size)
    assert status()["labels"]["fps"] > 1

    logs = dev("device", "service", "logs", "--root", device_root)
    assert logs.returncode == 0
    stop = dev("device", "service", "stop", "--root", device_root)
    assert stop.returncode == 0, stop.stderr
    assert not _alive(supervisor_pid) and not _alive(st["main_pid"])
    assert not (device_root / "service" / "supervisor.pid").exists()
    assert status()["service"]["state"] == "stopped"


def test_systemd_adapter_commands_and_state(tmp_path, monkeypatch) -> None:
    """systemd cannot be PID 1 here: a stand-in `systemctl`/`journalctl` on PATH records the calls and answers
    `show` like systemd does, so the adapter's command lines and its parsing are checked."""
    from edgevision.releases.service import Systemd
    from edgevision.releases.store import DeviceStore

    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    show = tmp_path / "show.txt"
    for tool, body in (("systemctl", f'if [ "$2" = show ]; then cat {show}; fi'),
                       ("journalctl", 'echo "INFO: starting"; echo "error: /dev/video0: source not found"'),
                       ("loginctl", f'mkdir -p {tmp_path / "linger"} && touch {tmp_path / "linger"}/$2')):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\n{body}\n')
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr("edgevision.releases.service.LINGER_DIR", tmp_path / "linger")
    store = DeviceStore(tmp_path / "root")
    store.ensure()
    sd = Systemd(store, "user")
    unit = sd.install("[Service]\nExecStart=/bin/true\n")
    assert unit == tmp_path / "home" / ".config" / "systemd" / "user" / "edgevision.service" and unit.is_file()
    assert (store.service_dir / "edgevision.service").is_file(), "a copy for status and review"
    sd.stop()
    sd.start()
    calls = log.read_text().splitlines()
    assert calls == ["systemctl --user daemon-reload", "systemctl --user enable edgevision.service",
                     f"loginctl enable-linger {getpass.getuser()}", "systemctl --user stop edgevision.service",
                     "systemctl --user start edgevision.service"]
    show.write_text("LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4242\nNRestarts=0\n"
                    "ExecMainStatus=0\n")
    st = sd.state()
    assert st.running and st.main_pid == 4242 and sd.failure() is None
    show.write_text("LoadState=loaded\nActiveState=activating\nSubState=auto-restart\nMainPID=0\nNRestarts=1\n"
                    "ExecMainStatus=2\n")
    assert sd.state().state == "auto-restart" and sd.state().restarts == 1
    reason = sd.failure()
    assert reason and "status 2" in reason and "source not found" in reason
    assert Systemd(store, "system").unit_path == Path("/etc/systemd/system/edgevision.service")
    # linger already on: no loginctl call; linger that cannot be enabled is a clear failure, not a silent one
    sd.install("[Service]\nExecStart=/bin/true\n")
    assert log.read_text().splitlines().count(f"loginctl enable-linger {getpass.getuser()}") == 1
    (tmp_path / "linger" / getpass.getuser()).unlink()
    (bin_dir / "loginctl").write_text("#!/bin/sh\necho 'Access denied' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")  # and no sudo
    monkeypatch.setattr("edgevision.releases.service.shutil.which", lambda name: None)
    with pytest.raises(CheckFailed, match="sudo loginctl enable-linger"):
        sd.install("[Service]\nExecStart=/bin/true\n")
