"""Pre-flight judgement (device facts vs the bundle) and the SSH command lines deploy builds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgevision.deploy.deployer import detect_profile, probe_source
from edgevision.deploy.preflight import evaluate, failures, wheels_for
from edgevision.deploy.ssh import Ssh, SshOptions, SshTarget
from edgevision.errors import BadInput
from edgevision.releases.manifest import Manifest
from edgevision.releases.runtime_config import RuntimeConfig


def _manifest(profile: str = "rpi5", arch: str = "aarch64", source: str = "picamera2",
              delegate: str = "cpu") -> Manifest:
    rt = RuntimeConfig(model="m.tflite", source=source, delegate=delegate)
    return Manifest(id="0" * 16, created="", edgevision="0.1.0", profile={"name": profile, "arch": arch},
                    model={}, runtime=rt, files={"m.tflite": {"sha256": "", "size": 1000}})


def _facts(**over: object) -> dict:
    facts = {
        "arch": "aarch64", "board": "Raspberry Pi 5 Model B Rev 1.0", "glibc": "glibc-2.36", "root": "/home/pi/ev",
        "free_mb": 10_000, "systemd": True, "libedgetpu": None, "coral_usb": [], "coral_pci": [],
        "venv_python": "/home/pi/ev/venv/bin/python",
        "system_python": {"path": "/usr/bin/python3", "version": "3.11.2", "ensurepip": True},
        "target": {"path": "/home/pi/ev/venv/bin/python", "version": "3.11.2", "edgevision": "0.1.0",
                   "ai-edge-litert": "2.3.0", "picamera2": True, "venv": True, "system_site_packages": True},
    }
    facts.update(over)
    return facts


def _failed(checks) -> dict[str, str]:
    return {c.name: f"{c.detail} {c.fix}" for c in failures(checks)}


def test_a_ready_pi_passes() -> None:
    checks = evaluate(_facts(), _manifest(), install=False, bundle_bytes=1000)
    assert not failures(checks)
    assert {c.name for c in checks} == {"arch", "python", "edgevision", "camera", "delegate", "service"}


def test_32_bit_os_old_python_and_missing_pieces() -> None:
    bad = _failed(evaluate(_facts(arch="armv7l"), _manifest(), False, 1000))
    assert "64-bit" in bad["arch"] and "python" not in bad  # tflite-runtime has armv7l wheels for 3.11
    trixie32 = _facts(arch="armv7l", target={**_facts()["target"], "version": "3.13.5"})
    bad = _failed(evaluate(trixie32, _manifest("rpi3", "armv7l"), False, 1000))
    assert "no ai-edge-litert or tflite-runtime wheel" in bad["python"] and "Python 3.11" in bad["python"]
    old = _facts(target={**_facts()["target"], "version": "3.9.2"})
    assert "older than" in _failed(evaluate(old, _manifest(), False, 1000))["python"]
    assert wheels_for("aarch64", (3, 11), (2, 36)) == ["ai-edge-litert", "tflite-runtime"]
    assert wheels_for("aarch64", (3, 12), (2, 36)) == ["ai-edge-litert"]
    assert wheels_for("aarch64", (3, 11), (2, 31)) == ["ai-edge-litert"]  # tflite-runtime's aarch64 needs 2.34
    assert wheels_for("armv7l", (3, 11), (2, 36)) == ["tflite-runtime"]
    assert wheels_for("armv7l", (3, 13), (2, 41)) == []
    assert wheels_for("armv7l", (3, 11), (2, 31)) == []  # Raspberry Pi OS bullseye's glibc is too old
    none = _facts(target={"path": "/usr/bin/python3", "version": "3.11.2", "edgevision": None})
    assert "--install" in _failed(evaluate(none, _manifest(), False, 1000))["edgevision"]
    assert "edgevision" not in _failed(evaluate(none, _manifest(), True, 1000))
    nocam = _facts(target={**_facts()["target"], "picamera2": False, "system_site_packages": False})
    camera = _failed(evaluate(nocam, _manifest(), False, 1000))["camera"]
    assert "python3-picamera2" in camera and "--system-site-packages" in camera
    full = _failed(evaluate(_facts(free_mb=10), _manifest(), False, 50 * 1024 * 1024))
    assert "MiB free" in full["disk"]


def test_coral_checks_library_device_and_usb_speed() -> None:
    coral = _manifest("coral-usb", delegate="edgetpu:usb", source="0")
    bad = _failed(evaluate(_facts(), coral, False, 1000))
    assert "libedgetpu1-std" in bad["libedgetpu"] and "no Coral USB Accelerator" in bad["coral"]
    usb2 = _facts(libedgetpu="/usr/lib/aarch64-linux-gnu/libedgetpu.so.1",
                  coral_usb=[{"id": "18d1:9302", "state": "ready", "speed_mbps": 480}])
    checks = {c.name: c for c in evaluate(usb2, coral, False, 1000)}
    assert not failures(list(checks.values()))
    assert checks["coral"].ok is None and "USB 2" in checks["coral"].detail and "USB 3" in checks["coral"].fix
    usb3 = _facts(libedgetpu="x", coral_usb=[{"id": "18d1:9302", "state": "ready", "speed_mbps": 5000}])
    assert {c.name: c.ok for c in evaluate(usb3, coral, False, 1000)}["coral"] is True


def test_profile_detection_from_the_device_tree() -> None:
    assert detect_profile(_facts()).name == "rpi5"
    assert detect_profile(_facts(board="Raspberry Pi 4 Model B Rev 1.4")).name == "rpi4"
    assert detect_profile(_facts(board=None, arch="x86_64")).name == "x86-64"
    with pytest.raises(BadInput, match="--profile"):
        detect_profile(_facts(board="Some Board", arch="riscv64"))


def test_probe_runs_standalone_with_only_the_standard_library(tmp_path: Path) -> None:
    """The probe is sent as a script: it must not import edgevision, and only read."""
    proc = subprocess.run([sys.executable, "-I", "-", "--root", str(tmp_path / "r"), "--python", sys.executable],
                          input=probe_source(), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert facts["target"]["path"] == sys.executable and facts["target"]["version"]
    assert facts["root"] == str(tmp_path / "r") and not (tmp_path / "r").exists()
    assert b"import edgevision" not in probe_source() and b"from edgevision" not in probe_source()


def test_ssh_command_lines_keep_host_key_checking_on() -> None:
    ssh = Ssh(SshTarget.parse("ssh://pi@cam.local:2222"), SshOptions(known_hosts=Path("/k"), identity=Path("/id"),
                                                                     options=("ConnectTimeout=3",)))
    argv = ssh.ssh_argv(["echo", "a b"])
    assert argv[0] == "ssh" and argv[-3:] == ["--", "pi@cam.local", "echo 'a b'"]
    joined = " ".join(argv)
    assert "BatchMode=yes" in joined and "-p 2222" in joined and "UserKnownHostsFile=/k" in joined
    # ssh keeps the first value of an option: ours come before anything the user adds
    assert argv.index("StrictHostKeyChecking=yes") < argv.index("ConnectTimeout=3")
    scp = ssh.scp_argv(Path("/tmp/b.tar.gz"), "/home/pi/ev/incoming/b.tar.gz")
    assert scp[-1] == "pi@cam.local:/home/pi/ev/incoming/b.tar.gz" and "-P" in scp
    for bad in ("StrictHostKeyChecking=no", "StrictHostKeyChecking accept-new", "UserKnownHostsFile=/dev/null",
                "BatchMode=no", "PasswordAuthentication=yes"):
        with pytest.raises(BadInput):
            SshOptions(options=(bad,))
    assert SshTarget.parse("cam").dest == "cam" and SshTarget.parse("u@h", 22).port == 22
    assert SshTarget.parse("u@fe80::1").scp_dest("/x") == "u@[fe80::1]:/x"
    for bad in ("-oProxyCommand=x", "u@", "a b"):
        with pytest.raises(BadInput):
            SshTarget.parse(bad)


def test_32_bit_install_needs_the_system_opencv() -> None:
    """armv7l: PyPI has no OpenCV wheel, so --install relies on Debian's python3-opencv (system site packages)."""
    sys_py = {"path": "/usr/bin/python3", "version": "3.11.2", "ensurepip": True}
    facts = _facts(arch="armv7l", board="Raspberry Pi 3 Model B Plus Rev 1.3", system_python=sys_py)
    bad = _failed(evaluate(facts, _manifest("rpi3", "armv7l", source="0"), True, 1000))
    assert "sudo apt install python3-opencv" in bad["opencv"]
    facts["system_python"] = {**sys_py, "cv2": "/usr/lib/python3/dist-packages/cv2.cpython-311-arm-linux-gnueabihf.so"}
    checks = evaluate(facts, _manifest("rpi3", "armv7l", source="0"), True, 1000)
    assert not failures(checks)
    assert "tflite-runtime" in next(c.detail for c in checks if c.name == "python")
    assert detect_profile(facts).name == "rpi3"
