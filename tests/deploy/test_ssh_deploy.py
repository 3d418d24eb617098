"""Deploy over a real OpenSSH server on loopback; this machine plays the device.

The device side runs in the TF-free device virtualenv (``--remote-python``), its service under
edgevision's supervisor (systemd is not PID 1 here) and labels a live MJPEG stream.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.deploy.conftest import device_cli

pytestmark = pytest.mark.usefixtures("sshd")


def _deploy(cli, sshd, bundle: Path, root: Path, device_python: str, *extra: str):
    return cli("deploy", bundle, *sshd.ssh_args(), "--root", root, "--remote-python", device_python, *extra,
               timeout=300)


def _status(device_python: str, root: Path) -> dict:
    out = device_cli(device_python)("device", "status", "--root", root, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _bundle(cli, model: Path, out: Path, source: str, *extra: str) -> Path:
    made = cli("bundle", model, "--profile", "x86-64", "--source", source, "--out", out, *extra)
    assert made.returncode == 0, made.stderr
    return out


def test_deploy_switch_second_deploy_and_rollback(cli, sshd, models, camera, device_python, device_root,
                                                  tmp_path) -> None:
    first = _bundle(cli, models.int8, tmp_path / "first.tar.gz", camera)
    out = _deploy(cli, sshd, first, device_root, device_python, "--service", "--manager", "supervisor", "--json")
    assert out.returncode == 0, out.stderr
    r1 = json.loads(out.stdout)
    assert r1["previous"] is None and r1["first_label"]["label"] in {"circle", "cross", "square", "star", "triangle"}
    assert r1["first_label"]["source"] == camera
    assert {c["name"] for c in r1["checks"]} >= {"arch", "python", "edgevision", "delegate", "service"}
    st = _status(device_python, device_root)
    assert st["current"] == r1["release"] and st["service"]["state"] == "running"
    assert st["service"]["release"] == r1["release"]
    assert not list((device_root / "incoming").iterdir()), "the upload is removed after install"

    # A second deploy straight from a model file (deploy bundles it), same camera: a new release becomes current.
    out = _deploy(cli, sshd, models.float32, device_root, device_python, "--profile", "x86-64", "--source", camera,
                  "--service", "--json")
    assert out.returncode == 0, out.stderr
    r2 = json.loads(out.stdout)
    assert r2["release"] != r1["release"] and r2["previous"] == r1["release"]
    st = _status(device_python, device_root)
    assert (st["current"], st["previous"]) == (r2["release"], r1["release"])
    assert st["service"]["release"] == r2["release"] and st["service"]["state"] == "running"
    assert (device_root / "current").resolve().name == r2["release"]

    # Rollback on the device, over plain ssh, as a user would.
    back = sshd.ssh(device_python, "-m", "edgevision", "device", "rollback", "--root", str(device_root), "--json")
    assert back.returncode == 0, back.stderr
    rb = json.loads(back.stdout)
    assert rb["release"] == r1["release"] and rb["first_label"]["source"] == camera
    st = _status(device_python, device_root)
    assert (st["current"], st["previous"]) == (r1["release"], r2["release"])
    assert st["service"]["release"] == r1["release"] and st["labels"]["recent"]
    events = [e["event"] for e in st["history"]]
    assert events[-1] == "rollback"


def test_refusals_leave_the_previous_model_active(cli, sshd, models, device_python, device_root, tmp_path) -> None:
    source = str(models.data / "test" / "star")
    good = _bundle(cli, models.int8, tmp_path / "good.tar.gz", source)
    out = _deploy(cli, sshd, good, device_root, device_python, "--json")
    assert out.returncode == 0, out.stderr
    active, active_id = json.loads(out.stdout)["release"], json.loads(out.stdout)["id"]
    releases = sorted(p.name for p in (device_root / "releases").iterdir())

    def unchanged() -> None:
        assert (device_root / "current").resolve().name == active
        assert sorted(p.name for p in (device_root / "releases").iterdir()) == releases
        assert not list((device_root / "incoming").iterdir())

    # 1. Tampered: one byte of the model flipped after bundling (manifest untouched).
    tampered = _bundle(cli, models.float32, tmp_path / "tampered", source)
    model = tampered / models.float32.name
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    out = _deploy(cli, sshd, tampered, device_root, device_python)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "sha256 does not match the manifest" in out.stderr and models.float32.name in out.stderr
    unchanged()

    # 2. An archive whose entry climbs out of the release directory.
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(good) as src, tarfile.open(evil, "w:gz") as dst:
        for m in src.getmembers():
            dst.addfile(m, src.extractfile(m))
        payload = b"owned\n"
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = len(payload)
        dst.addfile(info, io.BytesIO(payload))
    out = _deploy(cli, sshd, evil, device_root, device_python)
    assert out.returncode == 1 and "escapes the target directory" in out.stderr, out.stderr
    assert not list(device_root.parent.rglob("escaped.txt"))
    unchanged()

    # 3. A bundle swapped in transit: sound in itself, but not the one the desktop sent (its id differs).
    other = _bundle(cli, models.float32, tmp_path / "other.tar.gz", source)
    remote = device_root / "incoming" / "other.tar.gz"
    copy = sshd.ssh("cp", str(other), str(remote))
    assert copy.returncode == 0, copy.stderr
    refused = sshd.ssh(device_python, "-m", "edgevision", "device", "install", str(remote), "--root",
                       str(device_root), "--expect-id", active_id, "--remove")
    assert refused.returncode == 1 and "is not the" in refused.stderr, refused.stderr
    unchanged()


def test_failed_start_rolls_back_on_the_device(cli, sshd, models, camera, device_python, device_root,
                                               tmp_path) -> None:
    good = _bundle(cli, models.int8, tmp_path / "good.tar.gz", camera)
    out = _deploy(cli, sshd, good, device_root, device_python, "--service", "--json")
    assert out.returncode == 0, out.stderr
    active = json.loads(out.stdout)["release"]
    broken = _bundle(cli, models.float32, tmp_path / "broken.tar.gz", "/nonexistent/camera")
    out = _deploy(cli, sshd, broken, device_root, device_python, "--service", "--wait", "60")
    assert out.returncode == 1, out.stderr
    assert "did not start" in out.stderr and "source not found" in out.stderr
    assert f"rolled back to {active}, which is running again" in out.stderr
    st = _status(device_python, device_root)
    assert st["current"] == active and st["service"]["release"] == active and st["service"]["state"] == "running"
    assert [e["event"] for e in st["history"]][-3:] == ["install", "activate", "restore"]


def test_dry_run_prints_every_step_and_changes_nothing(cli, sshd, models, device_python, device_root,
                                                       tmp_path) -> None:
    bundle = _bundle(cli, models.int8, tmp_path / "b.tar.gz", str(models.data / "test" / "star"))
    out = _deploy(cli, sshd, bundle, device_root, device_python, "--service", "--dry-run")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for step in ("copy the deployment kit", "copy the bundle", "verify the manifest", "switch current atomically"):
        assert step in text
    assert text.count("$ ssh ") >= 3 and "$ scp " in text and "StrictHostKeyChecking=yes" in text
    assert "device activate" in text and "--service" in text
    assert not device_root.exists(), "a dry run creates nothing on the device"


def test_unknown_host_key_is_refused(cli, sshd, models, device_python, device_root, tmp_path) -> None:
    bundle = _bundle(cli, models.int8, tmp_path / "b.tar.gz", str(models.data / "test" / "star"))
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    args = [a if a != str(sshd.known_hosts) else str(empty) for a in sshd.ssh_args()]
    out = cli("deploy", bundle, *args, "--root", device_root, "--remote-python", device_python)
    assert out.returncode == 1 and "host key unknown" in out.stderr and "Traceback" not in out.stderr
    assert empty.read_text() == "", "the host key must not be recorded behind the user's back"
    wrong = tmp_path / "wrong_known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 "
                     "AAAAC3NzaC1lZDI1NTE5AAAAIBmXq3nDkqX1v7oZ0QzQmJ5Jm7m0m0m0m0m0m0m0m0m0\n")
    args = [a if a != str(sshd.known_hosts) else str(wrong) for a in sshd.ssh_args()]
    out = cli("deploy", bundle, *args, "--root", device_root, "--remote-python", device_python)
    assert out.returncode == 1 and "CHANGED" in out.stderr
    out = cli("deploy", bundle, *sshd.ssh_args(), "-o", "StrictHostKeyChecking=no", "--root", device_root)
    assert out.returncode == 2 and "host-key checking" in out.stderr
    assert not device_root.exists()


@pytest.mark.slow
def test_install_creates_a_venv_with_system_site_packages(cli, sshd, models, tmp_path) -> None:
    """`deploy --install-from WHEEL`: the kit's install.sh makes ROOT/venv and pip installs edgevision[device]
    into it (dependencies come from the package index, hence slow); the deploy then runs with that venv."""
    import shutil
    import subprocess
    import sys

    from tests.conftest import REPO

    src = tmp_path / "src"
    shutil.copytree(REPO / "edgevision", src / "edgevision", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, timeout=600)
    (wheel,) = (tmp_path / "dist").glob("edgevision-*.whl")
    root = tmp_path / "device"
    bundle = _bundle(cli, models.int8, tmp_path / "b.tar.gz", str(models.data / "test" / "star"))
    out = cli("deploy", bundle, *sshd.ssh_args(), "--root", root, "--install-from", wheel, "--json", timeout=1800)
    assert out.returncode == 0, out.stderr
    cfg = (root / "venv" / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = true" in cfg
    venv_python = str(root / "venv" / "bin" / "python")
    st = _status(venv_python, root)
    assert st["current"] == json.loads(out.stdout)["release"]
    has_tf = subprocess.run([venv_python, "-c", "import tensorflow"], capture_output=True)
    assert has_tf.returncode != 0, "edgevision[device] must not pull in TensorFlow"
