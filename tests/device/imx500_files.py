"""Files an AI Camera Pi has, made here: an .rpk as imx500-package lays it out, and the sysfs/firmware tree.

The .rpk is firmware blocks (60-byte header with ``9464`` and the payload size, payload, ``3695``
footer; the payload here is filler, not a network) followed by a cpio archive written by GNU
cpio (newc format) holding ``network_info.txt``. The keys are the ones picamera2's IMX500
helper reads; the default values are those an imx500-package build wrote for a custom network
(identity input normalization), as published in a user's notes on a YOLO conversion.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

IDENTITY = {"inputTensorNorm_K00": "0x0400", "inputTensorNorm_K02": "0x0000", "inputTensorNorm_K03": "0x0000",
            "inputTensorNorm_K11": "0x0400", "inputTensorNorm_K13": "0x0000", "inputTensorNorm_K20": "0x0000",
            "inputTensorNorm_K22": "0x0400", "inputTensorNorm_K23": "0x0000", "inputTensorNorm_YGain": "0x0020",
            "inputTensorNorm_YAdd": "0x0000"}


def network_info(width: int = 32, height: int = 32, fmt: str = "RGB", **regs: str) -> str:
    lines = ["networkID=000000", "apParamSize=0", "networkNum=1", "networkOrdinal=0",
             f"inputTensorWidth={width}", f"inputTensorHeight={height}", f"inputTensorFormat={fmt}"]
    lines += [f"{k}={v}" for k, v in {**IDENTITY, **regs}.items()]
    lines += ["outputTensorNum=1", "outputTensorDimSize0=3", "outputTensorPadding0=0",
              "outputTensorBytesPerElement0=1"]
    return "\n".join(lines) + "\n"


def block(payload: bytes) -> bytes:
    return b"9464" + struct.pack(">I", len(payload)) + bytes(52) + payload + b"3695"


def write_rpk(path: Path, info: str | None, blocks: int = 2, fmt: str = "newc") -> Path:
    """An .rpk whose trailing cpio archive (GNU cpio, ``fmt``) carries ``info`` as network_info.txt."""
    cpio = shutil.which("cpio")
    assert cpio, "GNU cpio is in system-packages.txt"
    staging = path.parent / f".{path.name}.cpio"
    staging.mkdir(exist_ok=True)
    names = []
    if info is not None:
        (staging / "network_info.txt").write_text(info, encoding="ascii")
        names.append("network_info.txt")
    (staging / "readme.txt").write_text("filler\n", encoding="ascii")
    names.append("readme.txt")
    archive = subprocess.run([cpio, "-o", "-H", fmt, "--quiet"], input="\n".join(names).encode(), cwd=staging,
                             capture_output=True, check=True).stdout
    shutil.rmtree(staging)
    path.write_bytes(b"".join(block(bytes([i]) * (100 + i)) for i in range(blocks)) + archive)
    return path


def pi_root(root: Path, firmware: bool = True, camera: bool = True) -> Path:
    """/lib/firmware and /sys/class/video4linux as an AI Camera Pi has them (the sub-device's driver module
    is a symlink naming imx500, which is how picamera2 finds the sensor)."""
    if firmware:
        (root / "lib/firmware").mkdir(parents=True, exist_ok=True)
        for name in ("imx500_loader.fpk", "imx500_main.fpk"):
            (root / "lib/firmware" / name).write_bytes(b"fw")
    v4l = root / "sys/class/video4linux"
    for i, module in enumerate(("rp1_cfe", "imx500" if camera else "imx219")):
        dev = v4l / f"v4l-subdev{i}" / "device" / "driver"
        dev.mkdir(parents=True, exist_ok=True)
        (dev / "module").symlink_to(f"../../../../module/{module}")
    return root
