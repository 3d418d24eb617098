"""The device story on each emulated Pi userland (slow: `make test-devicelab`).

Per target (bookworm arm64, trixie arm64, bookworm armhf), from the desktop side and over SSH only:
deploy a model with ``--install --service`` (this checkout's wheel into a --system-site-packages venv;
the service under the device's own systemd), read its first label, ``device status``, deploy again,
``device rollback``; then ``edgevision doctor`` and ``edgevision bench`` on the device, and the bench result
merged into the desktop's report. The tests run in file order on one booted device per target.

The device boots its own systemd (PID 1, sshd started by it), and the service is a ``systemctl --user``
unit of the pi user's manager (``--manager systemd``) on every target. Under Debian bookworm's qemu-user 7.2
that needs the lab's preloaded shim (device/lab/qemu_user_shim.c: without it every client of a manager's
private socket hangs, and no unit of trixie's systemd 257 starts) and a bind mount on
/run/systemd/incoming (lab.py). ``Target.manager`` says which manager a target uses (``supervisor``,
edgevision's own, is the fallback where a user manager cannot run) and each run prints it. sudo does not
work in the lab (the qemu binfmt entries lack the credentials flag, so setuid is ignored): the lab enables
linger for pi itself, as ``sudo loginctl enable-linger pi`` would on a Pi.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

import pytest

from tests.devicelab.lab import Device

STANDIN_PYKMS = Path(__file__).parent / "standin" / "pykms.py"

pytestmark = pytest.mark.slow

EV = "~/edgevision/venv/bin/edgevision"
WAIT = "600"  # seconds for a first label: interpreter and OpenCV load slowly under emulation


def _manager(device: Device) -> tuple[str, str]:
    """systemd (the pi user's manager) or edgevision's supervisor: see the module docstring."""
    return ("--manager", device.target.manager)


def _ev(device: Device, *args: str, timeout: float = 900) -> tuple[int, str, str]:
    out = device.ssh(f"{EV} {shlex.join(args)}", timeout=timeout)
    return out.returncode, out.stdout, out.stderr


def _status(device: Device) -> dict:
    rc, out, err = _ev(device, "device", "status", "--json")
    assert rc == 0, err
    return json.loads(out)


def _check(report: dict, name: str) -> dict:
    return next(c for c in report["checks"] if c["name"] == name)


def test_deploy_install_service_status_redeploy_rollback(cli, device: Device, models, camera) -> None:
    t = device.target
    print(f"{t.name}: the service runs under {t.manager}")
    if t.manager == "systemd":
        user = device.ssh("timeout 120 systemctl --user is-system-running", timeout=180)
        assert user.stdout.strip() in ("running", "degraded"), user
    manager = _manager(device)
    t0 = time.monotonic()
    out = cli("deploy", models.int8, *device.ssh_args(), "--install", "--service", *manager, "--source", camera,
              "--wait", WAIT, "--json", timeout=3600)
    assert out.returncode == 0, out.stderr[-3000:]
    r1 = json.loads(out.stdout)
    print(f"{t.name}: first deploy with --install took {time.monotonic() - t0:.0f} s")
    # pre-flight: the device's own arch, Python and interpreter wheel
    assert _check(r1, "arch")["ok"] and t.arch in _check(r1, "arch")["detail"]
    assert t.board in _check(r1, "arch")["detail"]
    py = _check(r1, "python")
    assert py["ok"] and f"Python {t.python}." in py["detail"] and t.interpreter in py["detail"], py
    assert _check(r1, "service") == {"name": "service", "ok": True, "detail": "systemd", "fix": "",
                                      "missing_package": False}
    assert any(s["step"].startswith("build a wheel of this checkout") for s in r1["steps"])
    assert r1["first_label"]["label"] in ("circle", "cross", "square", "star", "triangle"), r1["first_label"]

    # The venv has this checkout's edgevision and the target's interpreter, never TensorFlow.
    pip = device.ssh("~/edgevision/venv/bin/python -m pip list --format json", timeout=300)
    dists = {d["name"].lower(): d["version"] for d in json.loads(pip.stdout)}
    assert t.interpreter in dists and "tensorflow" not in dists and "tensorflow-cpu" not in dists
    other = {"ai-edge-litert": "tflite-runtime", "tflite-runtime": "ai-edge-litert"}[t.interpreter]
    assert other not in dists

    st = _status(device)
    assert st["current"] == r1["release"]
    assert st["service"]["manager"] == manager[1] and st["service"]["state"] == "running", st["service"]
    assert st["labels"]["recent"], "the service writes labels"

    # A second deploy (no --install: the venv is there) with another config becomes current.
    out = cli("deploy", models.int8, *device.ssh_args(), "--service", *manager, "--source", camera, "--top-k", "2",
              "--wait", WAIT, "--json", timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    r2 = json.loads(out.stdout)
    assert r2["release"] != r1["release"] and r2["previous"] == r1["release"]
    assert len(r2["first_label"]["top_k"]) == 2

    rc, rb, err = _ev(device, "device", "rollback", "--wait", WAIT, "--json")
    assert rc == 0, err
    assert json.loads(rb)["release"] == r1["release"]
    st = _status(device)
    assert st["current"] == r1["release"] and st["previous"] == r2["release"]
    assert st["service"]["state"] == "running" and st["service"]["release"] == r1["release"]


def test_deploy_refuses_a_profile_for_another_arch(cli, device: Device, models, camera) -> None:
    other = "rpi3" if device.target.arch == "aarch64" else "rpi5"
    out = cli("deploy", models.int8, *device.ssh_args(), "--profile", other, "--source", camera, timeout=600)
    assert out.returncode == 1
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and f"pre-flight arch: {device.target.arch}" in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_doctor_passes_on_the_device(device: Device, camera) -> None:
    """The desktop's reference scores reproduce on the device's interpreter, and its camera frames are sound."""
    model = "/home/pi/edgevision/current/" + _model_name(device)
    rc, out, err = _ev(device, "doctor", model, "--source", camera, "--timeout", "120", "--json")
    assert rc == 0, out + err
    report = json.loads(out)
    assert report["passed"] and device.target.interpreter in str(report["runtime"]), report
    assert report["source"], report


def test_bench_result_merges_into_the_desktop_report(cli, device: Device, tmp_path: Path) -> None:
    model = "/home/pi/edgevision/current/" + _model_name(device)
    rc, _, err = _ev(device, "bench", model, "--runs", "5", "--warmup", "1", "--threads", "2", "--json")
    assert rc == 0, err
    exported = device.ssh(f"{EV} bench export /tmp/lab-bench.json >/dev/null 2>&1 && cat /tmp/lab-bench.json")
    assert exported.returncode == 0, exported.stderr
    (tmp_path / "device.json").write_text(exported.stdout)
    store = tmp_path / "desktop.sqlite"
    imported = cli("bench", "import", tmp_path / "device.json", "--store", store)
    assert imported.returncode == 0, imported.stderr
    rep = cli("bench", "report", "--store", store, "--json")
    assert rep.returncode == 0, rep.stderr
    (row,) = json.loads(rep.stdout)
    t = device.target
    assert t.board in row["device"] and t.arch in row["device"] and "emulated" in row["device"], row
    assert "emulated" in row["flags"] and not row["published ms"], row
    doc = json.loads((tmp_path / "device.json").read_text())
    docs = doc if isinstance(doc, list) else doc.get("results", [doc])
    fp = docs[0]["device"]
    assert fp["arch"] == t.arch and fp["board"] == t.board and fp["emulated"] == "qemu-user", fp


def test_picamera2_is_the_real_library_and_says_no_camera(device: Device) -> None:
    if not device.target.picamera2:
        pytest.skip(f"{device.target.name} has no python3-libcamera (Raspberry Pi OS ships it from its own archive)")
    # As on a Pi: picamera2 from PyPI into the --system-site-packages venv, its compiled dependencies
    # (libcamera, numpy, prctl, av, ...) from the distribution.
    py = "~/edgevision/venv/bin/python"
    inst = device.ssh(f"{py} -m pip install -q picamera2", timeout=1800)
    assert inst.returncode == 0, inst.stderr[-2000:]
    model = "/home/pi/edgevision/current/" + _model_name(device)

    # Debian has no kms++, which picamera2 imports for its DRM preview: one line naming it, not
    # "install edgevision[pi]" (picamera2 is installed) and no traceback.
    rc, _, err = _ev(device, "run", model, "--source", "picamera2", "--max-frames", "1", timeout=600)
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert rc == 2 and len(errors) == 1 and "cannot import 'pykms'" in errors[0], err
    assert "python3-kms++" in errors[0] and "edgevision[pi]" not in errors[0] and "Traceback" not in err

    # With kms++'s binding present (a lab stand-in: display only, see its docstring), the real picamera2
    # and the system libcamera import, and the camera lookup says there is no camera.
    site = device.ssh(f"{py} -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])'").stdout.strip()
    put = device.ssh(f"cat > {shlex.quote(site)}/pykms.py", timeout=60, stdin=STANDIN_PYKMS.read_text())
    assert put.returncode == 0, put.stderr
    where = device.ssh(f"{py} -c 'import picamera2, libcamera; print(picamera2.__file__, libcamera.__file__)'",
                       timeout=300)
    assert where.returncode == 0, where.stderr[-2000:]
    assert f"{site}/picamera2/" in where.stdout and "/usr/lib/python3/dist-packages/libcamera" in where.stdout, where
    rc, _, err = _ev(device, "run", model, "--source", "picamera2", "--max-frames", "1", timeout=600)
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert rc == 2 and len(errors) == 1 and "no camera found" in errors[0], err
    assert "Traceback" not in err


def _model_name(device: Device) -> str:
    files = device.ssh("ls ~/edgevision/current/").stdout.split()
    (name,) = [f for f in files if f.endswith(".tflite")]
    return name
