"""Who measured: a device fingerprint attached to every benchmark result.

Results from many machines are merged into one table; the fingerprint says which board,
CPU, OS and interpreter produced each number, so a Pi 4 figure is never mistaken for a
laptop's. Everything is read from /proc and /sys (``root`` lets tests point at a fake
tree); nothing here needs privileges or extra packages.
"""

from __future__ import annotations

import hashlib
import json
import platform
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgevision.runtime.interpreter import usable_cores

# ARM "CPU part" codes in /proc/cpuinfo (aarch64 kernels print no model name)
ARM_PARTS = {"0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
             "0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76",
             "0xd0c": "Neoverse-N1", "0xd0d": "Cortex-A77", "0xd41": "Cortex-A78", "0xd44": "Cortex-X1",
             "0xd46": "Cortex-A510", "0xd47": "Cortex-A710", "0xd4d": "Cortex-A715", "0xd80": "Cortex-A520"}
# SIMD features that decide which kernels XNNPACK/ruy use; worth knowing when comparing CPUs
NOTABLE_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "asimd", "asimddp", "i8mm",
                 "sve", "neon")


@dataclass(frozen=True)
class Fingerprint:
    """The machine and software that produced a result. Same fields -> same ``id``."""

    name: str               # a person's label for the device (default: the hostname)
    board: str              # /proc/device-tree/model, or DMI vendor + product on a PC
    cpu: str
    cores: int
    arch: str
    memory_mb: int
    max_mhz: float | None
    isa: tuple[str, ...]
    os: str
    kernel: str
    python: str
    runtime: str            # interpreter package: ai-edge-litert / tflite-runtime
    runtime_version: str
    emulated: str = ""      # "qemu-user" when the CPU is emulated: timings are not the board's

    def _identity(self) -> dict[str, Any]:
        d = asdict(self)
        if not d["emulated"]:  # results recorded before this field existed keep their ids
            del d["emulated"]
        return d

    @property
    def id(self) -> str:
        """Identity of machine + software: two results compare like-for-like only when these match."""
        return _digest(self._identity())

    @property
    def device_id(self) -> str:
        """Identity of the hardware alone (same board, different interpreter -> same device_id)."""
        keys = ("name", "board", "cpu", "cores", "arch", "memory_mb", "emulated")
        return _digest({k: v for k, v in self._identity().items() if k in keys})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["isa"] = list(self.isa)
        d["id"], d["device_id"] = self.id, self.device_id
        return d


def _digest(d: dict[str, Any]) -> str:
    blob = json.dumps(d, sort_keys=True, default=list, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _read(path: Path) -> str:
    try:
        return path.read_bytes().replace(b"\x00", b"").decode("utf-8", errors="replace").strip()
    except OSError:
        return ""


def _cpuinfo(root: Path) -> dict[str, str]:
    """First value of each key in /proc/cpuinfo (all cores share model and flags on the boards we target)."""
    out: dict[str, str] = {}
    for line in _read(root / "proc/cpuinfo").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out.setdefault(key.strip().lower(), value.strip())
    return out


def board_model(root: Path = Path("/")) -> str:
    """The board: device tree model on ARM boards (e.g. 'Raspberry Pi 4 Model B Rev 1.4'), DMI on PCs."""
    dt = _read(root / "proc/device-tree/model") or _read(root / "sys/firmware/devicetree/base/model")
    if dt:
        return dt
    vendor, product = _read(root / "sys/class/dmi/id/sys_vendor"), _read(root / "sys/class/dmi/id/product_name")
    return " ".join(p for p in (vendor, product) if p and p.lower() not in ("none", "to be filled by o.e.m."))


def cpu_model(root: Path = Path("/")) -> str:
    info = _cpuinfo(root)
    if info.get("model name"):
        return info["model name"]
    part = info.get("cpu part", "").lower()
    if part in ARM_PARTS:
        return f"ARM {ARM_PARTS[part]}"
    return info.get("hardware") or info.get("model") or platform.processor() or ""


def max_mhz(root: Path = Path("/")) -> float | None:
    """Highest rated core clock (cpufreq), for the peak-throughput sanity check."""
    best = 0.0
    for f in (root / "sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/cpuinfo_max_freq"):
        text = _read(f)
        if text.isdigit():
            best = max(best, int(text) / 1000.0)
    if best:
        return best
    mhz = _cpuinfo(root).get("cpu mhz", "")
    try:
        return float(mhz) if mhz else None
    except ValueError:
        return None


def memory_mb(root: Path = Path("/")) -> int:
    for line in _read(root / "proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            return int(parts[1]) // 1024 if len(parts) > 1 and parts[1].isdigit() else 0
    return 0


def os_name(root: Path = Path("/")) -> str:
    for line in _read(root / "etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return platform.system()


def _family(arch: str) -> str:
    if arch.startswith(("arm", "aarch")):
        return "arm"
    return "x86" if arch in ("x86_64", "i686", "i386", "amd64") else arch


def emulation(root: Path = Path("/")) -> str:
    """'qemu-user' when this userland's architecture is not the CPU's (qemu-user passes the host's
    /proc/cpuinfo through: an aarch64 Python sees an x86 CPU), else ''."""
    seen = _arch_from_cpuinfo(root)
    return "qemu-user" if seen and _family(seen) != _family(platform.machine()) else ""


def collect(runtime: str, runtime_version: str, name: str | None = None, root: Path = Path("/")) -> Fingerprint:
    """Fingerprint this machine (``root`` is '/' except in tests)."""
    flags = set(_cpuinfo(root).get("flags", "").split()) | set(_cpuinfo(root).get("features", "").split())
    live = root == Path("/")
    return Fingerprint(
        name=name or (socket.gethostname() if live else ""),
        board=board_model(root), cpu=cpu_model(root), cores=usable_cores() if live else _count_cpus(root),
        arch=platform.machine() if live else _arch_from_cpuinfo(root), memory_mb=memory_mb(root),
        max_mhz=max_mhz(root), isa=tuple(f for f in NOTABLE_FLAGS if f in flags), os=os_name(root),
        kernel=platform.release() if live else "", python=platform.python_version(), runtime=runtime,
        runtime_version=runtime_version, emulated=emulation(root) if live else "",
    )


def _arch_from_cpuinfo(root: Path) -> str:
    info = _cpuinfo(root)
    if info.get("cpu architecture") == "8":
        return "aarch64"
    if info.get("cpu architecture") in ("7", "6"):
        return f"armv{info['cpu architecture']}l"
    return "x86_64" if "vendor_id" in info else ""


def _count_cpus(root: Path) -> int:
    return sum(1 for line in _read(root / "proc/cpuinfo").splitlines() if line.lower().startswith("processor"))
