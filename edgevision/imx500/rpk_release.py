"""IMX500 (Raspberry Pi AI Camera) releases: a bundle of data, packaged into network.rpk on the device.

A bundle for the ``rpi-ai-camera`` profile carries ``packerOut.zip`` (from ``edgevision convert
--target imx500``), ``labels.txt`` and ``imx500.json``, all hashed in the manifest like any
model. The .rpk is made on the device, at install time and before the switch, by Sony's
``imx500-package`` (apt package imx500-tools) in the staging directory; the release keeps it as
``network.rpk``, the one file in a release the manifest does not list (``DERIVED``). If the tool
is missing or fails, nothing is installed and the active release stays. ``imx500-package`` is
called with an argv list of paths edgevision made itself: nothing from the bundle reaches a
command line.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from edgevision.errors import BadInput, CheckFailed

PACKER = "packerOut.zip"
RPK = "network.rpk"
CARD = "imx500.json"
LABELS = "labels.txt"
DERIVED = frozenset({RPK})
BACKEND = "imx500"  # the device profile's backend: the network runs on the sensor
SOURCE = "imx500"
TOOL = "imx500-package"
TOOLS_FIX = "sudo apt install imx500-all (imx500-tools and the AI Camera firmware), then deploy again"
FIRMWARE = ("/lib/firmware/imx500_loader.fpk", "/lib/firmware/imx500_main.fpk")
PACKAGE_TIMEOUT_S = 600


def is_imx500(profile: dict[str, Any] | Any) -> bool:
    """A manifest profile section (or a Profile, whose TOML says ``backend = "imx500"``) for the AI Camera."""
    if isinstance(profile, dict):
        return profile.get("backend") == BACKEND
    return (getattr(profile, "extra", None) or {}).get("backend") == BACKEND


def check_packer(data: bytes, origin: str) -> None:
    """packerOut.zip is a bounded zip archive (read as data, never extracted here): its size, then its end
    record's entry count and directory size (the sensor has 8 MB of memory; a packerOut.zip is far smaller),
    and only then its directory."""
    import io

    from edgevision.limits import limits
    from edgevision.model.zip_directory import check_directory

    lim = limits()
    if len(data) > lim.packer_bytes:
        raise CheckFailed(f"{origin}: {len(data)} bytes is larger than any IMX500 network")
    try:
        check_directory(data, origin, lim.packer_entries, lim.zip_directory_bytes)
    except BadInput as exc:
        raise CheckFailed(f"{exc}; not a packerOut.zip from imxconv") from None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error, NotImplementedError, RuntimeError) as exc:
        raise CheckFailed(f"{origin}: not a packerOut.zip from imxconv ({exc})") from None
    if not names or len(names) > lim.packer_entries:
        raise CheckFailed(f"{origin}: {len(names)} entries; not a packerOut.zip from imxconv")


def package(release: Path, tool: str | None = None) -> Path:
    """Run ``imx500-package -i packerOut.zip -o TMP`` and keep its .rpk as ``release/network.rpk``."""
    exe = tool or shutil.which(TOOL)
    if not exe:
        raise BadInput(f"{TOOL} not found on this device: {TOOLS_FIX}; nothing was replaced")
    out = Path(tempfile.mkdtemp(prefix=".rpk-", dir=release.parent))
    try:
        proc = subprocess.run([exe, "-i", str(release / PACKER), "-o", str(out)], capture_output=True, text=True,
                              timeout=PACKAGE_TIMEOUT_S, check=False)
        rpks = sorted(out.rglob("*.rpk"))
        if proc.returncode != 0 or len(rpks) != 1:
            why = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or [f"{len(rpks)} .rpk files"]
            raise CheckFailed(f"{TOOL} failed on {PACKER} (exit {proc.returncode}): {why[0][:300]}; nothing was "
                              "replaced")
        if rpks[0].is_symlink() or not rpks[0].is_file():
            raise CheckFailed(f"{TOOL} wrote {rpks[0].name} as something other than a plain file")
        check_network(rpks[0], release)
        target = release / RPK
        shutil.move(str(rpks[0]), target)
        target.chmod(0o644)
        return target
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"{TOOL} did not finish within {PACKAGE_TIMEOUT_S} s; nothing was replaced") from None
    finally:
        shutil.rmtree(out, ignore_errors=True)


def check_network(rpk: Path, release: Path) -> None:
    """What imx500-package wrote must suit the network edgevision converted (``card_mismatch``: the doctor's
    rule too); a release without a card (not converted by edgevision) is not checked."""
    from edgevision.imx500.rpk import card_mismatch, read_network_info
    from edgevision.imx500.sensor_backend import read_card

    if not (release / CARD).is_file():
        return
    try:
        wrong = card_mismatch(read_network_info(rpk), read_card(release / CARD))
    except BadInput as exc:
        raise CheckFailed(f"{TOOL} made an unusable network: {exc}; nothing was replaced") from None
    if wrong:
        raise CheckFailed(f"{TOOL}: {wrong[0]}; {wrong[1]}; nothing was replaced")


def preflight(facts: dict[str, Any]) -> list[tuple[str, bool | None, str, str, bool]]:
    """(name, ok, detail, fix, missing_package) for the AI Camera: imx500-package must be there, the firmware
    should (the probe reports the registry's ``device_tools`` and ``device_files``)."""
    tools = facts.get("tools") if isinstance(facts.get("tools"), dict) else {}
    tool = tools.get(TOOL) if isinstance(tools.get(TOOL), str) else None
    files = facts.get("files") if isinstance(facts.get("files"), list) else []
    firmware = [f for f in files if f in FIRMWARE]
    return [
        ("imx500-tools", bool(tool), tool or f"{TOOL} not found on the device's PATH", "" if tool else TOOLS_FIX,
         not tool),
        ("imx500-fw", True if firmware else None,
         ", ".join(firmware) if firmware else f"AI Camera firmware not found ({', '.join(FIRMWARE)})",
         "" if firmware else "sudo apt install imx500-all", False),
    ]
