"""Field conditions around a measurement: temperature, throttling, clock governor, load, Coral USB link.

A Pi that hits 80 °C halves its clock, a CPU on the ``powersave`` governor runs slow, a
Coral on a USB2 port is 3-7x slower, and a busy machine steals cores: the same model gives
different numbers for reasons that are not the model's. Each result carries a snapshot
taken before and after its runs so the report can say why a number is off. Everything
degrades to ``None`` where the platform does not expose it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Coral USB Accelerator: Global Unichip before its firmware loads, Google once it runs
CORAL_USB_IDS = {("1a6e", "089a"), ("18d1", "9302")}
# bits of the Raspberry Pi firmware's get_throttled word
PI_THROTTLE_BITS = {0: "under-voltage now", 1: "ARM frequency capped now", 2: "throttled now",
                    3: "soft temperature limit now", 16: "under-voltage occurred", 17: "frequency capping occurred",
                    18: "throttling occurred", 19: "soft temperature limit occurred"}
HOT_C = 80.0  # the Pi firmware starts soft throttling here
MIN_METER_S = 0.25


@dataclass(frozen=True)
class EdgeTpu:
    """An attached Coral: 'usb' with its link speed in Mbit/s (480 = USB2, 5000 = USB3), or 'pci'."""

    bus: str
    path: str
    speed_mbps: int | None = None

    @property
    def usb2(self) -> bool:
        return self.bus == "usb" and self.speed_mbps is not None and self.speed_mbps < 5000


@dataclass(frozen=True)
class Snapshot:
    temp_c: float | None
    throttled: int | None          # Pi get_throttled word; None where not a Pi
    throttle_events: int | None    # x86 thermal_throttle counters, summed over cores
    governor: str | None
    cur_mhz: float | None
    load1: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def cpu_temperature(root: Path = Path("/")) -> float | None:
    """Hottest CPU-ish thermal zone in °C (cpu/soc/x86_pkg zones first, any zone as a fallback)."""
    zones = sorted((root / "sys/class/thermal").glob("thermal_zone*"))
    readings: list[tuple[bool, float]] = []
    for z in zones:
        raw = _read(z / "temp")
        if not raw.lstrip("-").isdigit():
            continue
        kind = _read(z / "type").lower()
        preferred = any(k in kind for k in ("cpu", "soc", "x86_pkg", "package"))
        readings.append((preferred, int(raw) / 1000.0))
    preferred = [t for p, t in readings if p]
    pool = preferred or [t for _, t in readings]
    return max(pool) if pool else None


def pi_throttled(root: Path = Path("/"), use_vcgencmd: bool = True) -> int | None:
    """The Pi firmware's throttle word: sysfs where the kernel exposes it, else ``vcgencmd get_throttled``."""
    raw = _read(root / "sys/devices/platform/soc/soc:firmware/get_throttled")
    if raw:
        try:
            return int(raw, 16)
        except ValueError:
            return None
    if use_vcgencmd and root == Path("/") and shutil.which("vcgencmd"):
        try:
            out = subprocess.run(["vcgencmd", "get_throttled"], capture_output=True, text=True, timeout=2).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        _, _, value = out.strip().partition("=")
        try:
            return int(value, 16)
        except ValueError:
            return None
    return None


def describe_throttled(word: int) -> list[str]:
    return [text for bit, text in PI_THROTTLE_BITS.items() if word & (1 << bit)]


def throttle_events(root: Path = Path("/")) -> int | None:
    """Sum of x86 per-core thermal throttle counters (they only ever grow)."""
    total, seen = 0, False
    for f in (root / "sys/devices/system/cpu").glob("cpu[0-9]*/thermal_throttle/core_throttle_count"):
        text = _read(f)
        if text.isdigit():
            total, seen = total + int(text), True
    return total if seen else None


def governor(root: Path = Path("/")) -> str | None:
    return _read(root / "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") or None


def current_mhz(root: Path = Path("/")) -> float | None:
    text = _read(root / "sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq")
    return int(text) / 1000.0 if text.isdigit() else None


def load1(root: Path = Path("/")) -> float | None:
    text = _read(root / "proc/loadavg")
    try:
        return float(text.split()[0]) if text else None
    except ValueError:
        return None


def snapshot(root: Path = Path("/")) -> Snapshot:
    return Snapshot(temp_c=cpu_temperature(root), throttled=pi_throttled(root), throttle_events=throttle_events(root),
                    governor=governor(root), cur_mhz=current_mhz(root), load1=load1(root))


def edgetpus(root: Path = Path("/")) -> list[EdgeTpu]:
    """Corals attached to this machine: USB accelerators (with link speed) and PCIe/M.2 ``/dev/apex_*``."""
    found: list[EdgeTpu] = []
    for dev in sorted((root / "sys/bus/usb/devices").glob("*")):
        ids = (_read(dev / "idVendor").lower(), _read(dev / "idProduct").lower())
        if ids in CORAL_USB_IDS:
            speed = _read(dev / "speed")
            found.append(EdgeTpu("usb", dev.name, int(float(speed)) if speed.replace(".", "").isdigit() else None))
    found += [EdgeTpu("pci", str(p)) for p in sorted((root / "dev").glob("apex_*"))]
    return found


def edgetpu_runtime_present() -> bool:
    """Whether libedgetpu can be found (a Coral without it cannot be used)."""
    import ctypes.util

    if ctypes.util.find_library("edgetpu"):
        return True
    return any(Path(d, "libedgetpu.so.1").exists() for d in ("/usr/lib", "/usr/lib/x86_64-linux-gnu",
                                                               "/usr/lib/aarch64-linux-gnu", "/usr/local/lib"))


class CpuMeter:
    """How much CPU *other* processes used while we measured, as a fraction of all cores.

    Machine-wide busy time from /proc/stat minus this process's own CPU time: unlike the
    load average it is exact for the window and does not count our own threads.
    """

    def __init__(self, root: Path = Path("/")) -> None:
        self.root = root
        self.others_fraction: float | None = None
        self._start: tuple[float, float, float] | None = None

    def _busy_s(self) -> float | None:
        first = _read(self.root / "proc/stat").split("\n", 1)[0].split()
        if len(first) < 5 or first[0] != "cpu":
            return None
        ticks = [int(v) for v in first[1:] if v.isdigit()]
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
        return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> CpuMeter:
        busy = self._busy_s()
        t = os.times()
        if busy is not None:
            self._start = (busy, t.user + t.system, time.monotonic())
        return self

    def __exit__(self, *exc: object) -> None:
        busy = self._busy_s()
        if self._start is None or busy is None:
            return
        t = os.times()
        busy0, own0, wall0 = self._start
        wall = time.monotonic() - wall0
        ncpu = os.cpu_count() or 1
        if wall >= MIN_METER_S:  # /proc/stat counts in 10 ms ticks: shorter windows are noise
            others = (busy - busy0) - (t.user + t.system - own0)
            self.others_fraction = round(min(1.0, max(0.0, others / (wall * ncpu))), 3)
