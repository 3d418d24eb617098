"""Deploying to a Raspberry Pi AI Camera over the real loopback sshd the deploy tests start.

``imx500-package`` (Sony's packager, apt package imx500-tools) exists only for Raspberry Pi OS,
so the device's PATH gets a thin stand-in (``FAKE_PACKAGER``) that wraps packerOut.zip into a
file the way an .rpk is framed; everything else is the real deploy: bundle, pre-flight probe,
copy, verify on the device, package at install time, switch, rollback.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import tarfile
import zipfile
from pathlib import Path

import pytest

from edgevision.model.labels import labels_sha256, write_labels
from tests.deploy.conftest import device_cli

pytestmark = pytest.mark.usefixtures("sshd")

FAKE_PACKAGER = """#!/usr/bin/env python3
# Test stand-in for imx500-package: `-i packerOut.zip -o DIR` -> DIR/network.rpk: the input framed as one
# firmware block (9464 + big-endian size + header, payload, 3695) and a GNU cpio archive with network_info.txt.
import os, pathlib, struct, subprocess, sys
a = sys.argv[1:]
src, out = pathlib.Path(a[a.index("-i") + 1]), pathlib.Path(a[a.index("-o") + 1])
if False:  # FAIL
    sys.exit("imx500-package: cannot parse " + str(src))
out.mkdir(parents=True, exist_ok=True)
info = "networkNum=1\\nnetworkOrdinal=0\\ninputTensorWidth=32\\ninputTensorHeight=32\\ninputTensorFormat=RGB\\n"
info += "".join(f"inputTensorNorm_K{r}{c}={0x400 if r == c else 0:#06x}\\n" for r in range(3) for c in range(4))
(out / "network_info.txt").write_text(info)
cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input=b"network_info.txt\\n", cwd=out,
                      capture_output=True, check=True).stdout
(out / "network_info.txt").unlink()
data = src.read_bytes()
(out / "network.rpk").write_bytes(b"9464" + struct.pack(">I", len(data)) + bytes(52) + data + b"3695" + cpio)
"""


def framed(packer: bytes) -> bytes:
    """The firmware block FAKE_PACKAGER makes of packerOut.zip (the cpio part follows it)."""
    import struct

    return b"9464" + struct.pack(">I", len(packer)) + bytes(52) + packer + b"3695"


LABELS = ("circle", "cross", "square")


def converted(folder: Path, labels: tuple[str, ...] = LABELS) -> Path:
    """A folder as `convert --target imx500` writes it (packerOut.zip is opaque data to deploy)."""
    folder.mkdir(parents=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("dnnParams.xml", "<dnnParams/>")
        zf.writestr("network.bin", bytes(range(256)) * 8)
    (folder / "packerOut.zip").write_bytes(buf.getvalue())
    write_labels(folder / "labels.txt", labels)
    card = {"schema": "edgevision.model/1", "name": "shapes", "labels_sha256": labels_sha256(list(labels)),
            "num_classes": len(labels), "preprocess": {"width": 32, "height": 32, "crop": "squash"},
            "validation": {"passed": True, "accuracy": 0.9},
            "target": {"name": "imx500", "packer_sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
                       "memory": {"fits": True, "used_kb": 199.6, "total_kb": 8192.0},
                       "normalization": {"where": "network", "mean": [0.0], "std": [255.0]}}}
    (folder / "imx500.json").write_text(json.dumps(card))
    return folder / "packerOut.zip"


def profile(tmp_path: Path) -> Path:
    """rpi-ai-camera, but for this machine's architecture (the loopback 'device' is this machine)."""
    text = (Path(__file__).resolve().parents[2] / "device" / "profiles" / "rpi-ai-camera.toml").read_text()
    p = tmp_path / "ai-camera-here.toml"
    p.write_text(text.replace('arch = "aarch64"', f'arch = "{platform.machine()}"').replace(
        'name = "rpi-ai-camera"', 'name = "ai-camera-here"'))
    return p


def deploy(cli, sshd, bundle: Path, root: Path, device_python: str):
    return cli("deploy", bundle, *sshd.ssh_args(), "--root", root, "--remote-python", device_python, "--json",
               timeout=300)


def status(device_python: str, root: Path) -> dict:
    out = device_cli(device_python)("device", "status", "--root", root, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_bundle_is_data_and_names_the_rpk(cli, tmp_path: Path) -> None:
    out = tmp_path / "cam.tar.gz"
    made = cli("bundle", converted(tmp_path / "conv"), "--profile", "rpi-ai-camera", "--out", out, "--json")
    assert made.returncode == 0, made.stderr
    with tarfile.open(out) as tf:
        names = sorted(m.name.lstrip("./") for m in tf if m.isfile())
        runtime = json.loads(tf.extractfile("runtime.json").read())  # type: ignore[union-attr]
    assert names == ["imx500.json", "labels.txt", "manifest.json", "packerOut.zip", "runtime.json"]
    assert runtime["model"] == "network.rpk" and runtime["source"] == "imx500"
    bad = cli("bundle", tmp_path / "conv" / "labels.txt", "--profile", "rpi-ai-camera", "--out", tmp_path / "x")
    assert bad.returncode == 2 and "--target imx500" in bad.stderr, bad.stderr
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("dnnParams.xml", "<other/>")
    (tmp_path / "conv" / "packerOut.zip").write_bytes(other.getvalue())
    bad = cli("bundle", tmp_path / "conv", "--profile", "rpi-ai-camera", "--out", tmp_path / "y")
    assert bad.returncode == 2 and "not the packerOut.zip imx500.json describes" in bad.stderr, bad.stderr
    (tmp_path / "conv" / "packerOut.zip").write_bytes(b"PK not really")
    bad = cli("bundle", tmp_path / "conv", "--profile", "rpi-ai-camera", "--out", tmp_path / "z")
    assert bad.returncode == 2 and "not a packerOut.zip" in bad.stderr, bad.stderr


def test_package_at_install_switch_refuse_without_tools_and_roll_back(cli, sshd, device_python, device_root,
                                                                     tmp_path: Path) -> None:
    prof = profile(tmp_path)
    first, second = tmp_path / "first.tar.gz", tmp_path / "second.tar.gz"
    for folder, out, labels in ((tmp_path / "a", first, LABELS), (tmp_path / "b", second, ("x", "y", "z"))):
        made = cli("bundle", converted(folder, labels), "--profile", prof, "--out", out)
        assert made.returncode == 0, made.stderr
    tool = sshd.bin / "imx500-package"
    tool.write_text(FAKE_PACKAGER)
    tool.chmod(0o755)
    try:
        out = deploy(cli, sshd, first, device_root, device_python)
        assert out.returncode == 0, out.stderr
        r1 = json.loads(out.stdout)
        checks = {c["name"]: c for c in r1["checks"]}
        assert checks["imx500-tools"]["ok"] is True and checks["imx500-fw"]["ok"] is None  # no firmware here: warn
        rpk = device_root / "releases" / r1["release"] / "network.rpk"
        packer = (tmp_path / "a" / "packerOut.zip").read_bytes()
        assert rpk.read_bytes().startswith(framed(packer)), "the release keeps the .rpk made at install time"
        assert status(device_python, device_root)["current"] == r1["release"]

        tool.unlink()  # a device without imx500-tools: one line, exit 2, nothing replaced
        out = deploy(cli, sshd, second, device_root, device_python)
        errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
        assert out.returncode == 2 and len(errors) == 1 and "Traceback" not in out.stderr, out.stderr
        assert "imx500-package" in errors[0] and "imx500-all" in errors[0]
        st = status(device_python, device_root)
        assert st["current"] == r1["release"] and len(st["releases"]) == 1

        tool.write_text(FAKE_PACKAGER.replace("if False:  # FAIL", "if True:"))  # the packager itself fails
        tool.chmod(0o755)
        out = deploy(cli, sshd, second, device_root, device_python)
        assert out.returncode != 0 and "imx500-package failed" in out.stderr, out.stderr
        assert [r["name"] for r in status(device_python, device_root)["releases"]] == [r1["release"]]

        # a packager that sets a sensor normalization the network does not expect: refused before the switch
        tool.write_text(FAKE_PACKAGER.replace("0x400 if r == c", "0x200 if r == c"))
        out = deploy(cli, sshd, second, device_root, device_python)
        assert out.returncode != 0 and "inputTensorNorm_K00=0x0200" in out.stderr, out.stderr
        assert [r["name"] for r in status(device_python, device_root)["releases"]] == [r1["release"]]

        tool.write_text(FAKE_PACKAGER)
        out = deploy(cli, sshd, second, device_root, device_python)
        assert out.returncode == 0, out.stderr
        r2 = json.loads(out.stdout)
        st = status(device_python, device_root)
        assert (st["current"], st["previous"]) == (r2["release"], r1["release"])
        back = device_cli(device_python)("device", "rollback", "--root", device_root, "--json")
        assert back.returncode == 0, back.stderr
        st = status(device_python, device_root)
        assert (st["current"], st["previous"]) == (r1["release"], r2["release"])
        assert (device_root / "current" / "network.rpk").read_bytes() == rpk.read_bytes()
    finally:
        tool.unlink(missing_ok=True)
