"""A bundle is data (issue 12): a config string that would have injected a unit line is refused at
``bundle`` time, and a hand-made bundle with valid hashes carrying one is refused by ``device install``
over the real sshd, before anything runs; the service unit never holds a release's strings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgevision.releases.manifest import FORMAT, MANIFEST, RUNTIME, canonical_json, sha256_bytes
from tests.deploy.test_bundle import _one_line_error

INJECTION = "img.bmp\nExecStart=\nExecStart=/usr/bin/touch {marker}\n#"


def forge(good: Path, out: Path, profile: dict | None = None, **runtime: object) -> Path:
    """A bundle directory whose runtime config is changed and whose hashes and id are all recomputed."""
    out.mkdir()
    manifest = json.loads((good / MANIFEST).read_text())
    manifest["profile"].update(profile or {})
    rt = {**manifest["runtime"], **runtime}
    raw_rt = (json.dumps(rt, indent=2, sort_keys=True) + "\n").encode()
    for name in manifest["files"]:
        data = raw_rt if name == RUNTIME else (good / name).read_bytes()
        (out / name).write_bytes(data)
        manifest["files"][name] = {"sha256": sha256_bytes(data), "size": len(data)}
    manifest["runtime"] = rt
    core = {"format": FORMAT, "profile": manifest["profile"], "runtime": rt, "files": manifest["files"]}
    manifest["id"] = sha256_bytes(canonical_json(core))[:16]
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return out


def test_bundle_refuses_a_source_with_a_newline(cli, models, tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    out = cli("bundle", models.int8, "--profile", "x86-64", "--source", INJECTION.format(marker=marker),
              "--out", tmp_path / "b")
    _one_line_error(out, 2, "control character")
    assert not (tmp_path / "b").exists()
    out = cli("bundle", models.int8, "--profile", "x86-64", "--source", "0", "--sink",
              "mqtt=mqtt://cam:hunter2@broker/t", "--out", tmp_path / "c")
    _one_line_error(out, 2, "mqtt-credentials")
    assert "hunter2" not in out.stderr + out.stdout


@pytest.mark.usefixtures("sshd")
def test_forged_bundle_is_refused_by_the_device_over_ssh(cli, sshd, models, camera, device_python, device_root,
                                                         tmp_path: Path) -> None:
    good = tmp_path / "good"
    made = cli("bundle", models.int8, "--profile", "x86-64", "--source", camera, "--out", good)
    assert made.returncode == 0, made.stderr
    out = cli("deploy", good, *sshd.ssh_args(), "--root", device_root, "--remote-python", device_python,
              "--service", "--manager", "supervisor", "--json", timeout=300)
    assert out.returncode == 0, out.stderr
    active = json.loads(out.stdout)["release"]
    unit = (device_root / "service" / "edgevision.service").read_text()
    assert camera not in unit and "device serve" in unit

    marker = tmp_path / "PWNED"
    cases = {"source": {"source": INJECTION.format(marker=marker)},
             "model": {"model": f"m\nExecStart=/usr/bin/touch {marker}\n.tflite"},
             "sink": {"sinks": [f"mqtt=mqtt://h/t\nExecStartPre=/usr/bin/touch {marker}"]},
             "password": {"sinks": ["mqtt=mqtt://u:hunter2@h/t"]}}
    for case, change in cases.items():
        bad = forge(good, tmp_path / f"bad-{case}", **change)
        remote = device_root / "incoming" / f"{case}"
        assert sshd.ssh("cp", "-r", str(bad), str(remote)).returncode == 0
        out = sshd.ssh(device_python, "-m", "edgevision", "device", "install", str(remote), "--root",
                       str(device_root))
        assert out.returncode == 1 and "Traceback" not in out.stderr, (case, out.stderr)
        assert "hunter2" not in out.stderr
        act = sshd.ssh(device_python, "-m", "edgevision", "device", "activate", "bad", "--root", str(device_root),
                       "--service")
        assert act.returncode != 0
        dep = cli("deploy", bad, *sshd.ssh_args(), "--root", device_root, "--remote-python", device_python,
                  "--service", "--manager", "supervisor", timeout=300)  # the desktop refuses it before copying
        assert dep.returncode != 0 and "Traceback" not in dep.stderr and "hunter2" not in dep.stderr, dep.stderr
        assert not marker.exists(), case
    st = json.loads(sshd.ssh(device_python, "-m", "edgevision", "device", "status", "--root", str(device_root),
                             "--json").stdout)
    assert st["current"] == active and st["service"]["state"] == "running" and st["service"]["release"] == active


@pytest.mark.parametrize("profile", [{"name": "x86-64\nExecStart=/bin/sh"},
                                     {"service": {"supplementary_groups": ["video\nUser=root"]}},
                                     {"service": {"restart_sec": "5\nExecStartPre=/bin/sh"}},
                                     {"service": {"nice": -99}}, {"service": "always"}])
def test_device_install_refuses_bad_profile_values(cli, models, tmp_path: Path, profile: dict) -> None:
    good = tmp_path / "good"
    assert cli("bundle", models.int8, "--profile", "x86-64", "--source", "0", "--out", good).returncode == 0
    bad = forge(good, tmp_path / "bad", profile=profile)
    out = cli("device", "install", bad, "--root", tmp_path / "root")
    _one_line_error(out, 1, "profile")
    assert not list((tmp_path / "root" / "releases").iterdir())
