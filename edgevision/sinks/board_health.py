"""The board's own health for the metrics endpoint: SoC temperature and, on a Raspberry Pi, throttling.

A model that slows down in the afternoon is often a Pi that got hot or was fed too little power: the
kernel's thermal zones (``/sys/class/thermal/thermal_zone*``, present on most Linux boards) give the
temperature, and the firmware's ``vcgencmd get_throttled`` (Raspberry Pi OS) says whether the SoC was
under-voltage, frequency-capped or throttled, now or since boot. Both are read when Prometheus scrapes,
in the scraping thread, never on the pipeline's; what a board lacks is simply not reported.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

THERMAL_ROOT = Path("/sys/class/thermal")
MAX_ZONES = 16
THROTTLE_CACHE_S = 10.0  # vcgencmd asks the firmware over a mailbox: not on every scrape of a fast scraper

# vcgencmd get_throttled: bit -> (condition, since boot)
THROTTLE_BITS: tuple[tuple[int, str, bool], ...] = (
    (0, "under_voltage", False), (1, "frequency_capped", False), (2, "throttled", False),
    (3, "soft_temperature_limit", False),
    (16, "under_voltage", True), (17, "frequency_capped", True), (18, "throttled", True),
    (19, "soft_temperature_limit", True),
)


@dataclass(frozen=True)
class Temperature:
    zone: str   # thermal_zone0 ...
    kind: str   # what the kernel calls it (cpu-thermal, x86_pkg_temp ...)
    celsius: float


def temperatures(root: Path = THERMAL_ROOT) -> list[Temperature]:
    """Every readable thermal zone (at most MAX_ZONES), in degrees Celsius."""
    out: list[Temperature] = []
    try:
        zones = sorted(p for p in root.iterdir() if p.name.startswith("thermal_zone"))[:MAX_ZONES]
    except OSError:
        return out
    for zone in zones:
        try:
            milli = int((zone / "temp").read_text(encoding="ascii", errors="replace").strip()[:16])
            kind = (zone / "type").read_text(encoding="ascii", errors="replace").strip()[:64]
        except (OSError, ValueError):
            continue
        if -100_000 < milli < 250_000:  # a zone whose sensor is absent reads garbage; skip it
            out.append(Temperature(zone.name, "".join(c for c in kind if c.isprintable()), milli / 1000.0))
    return out


def parse_throttled(text: str) -> dict[tuple[str, bool], bool] | None:
    """``throttled=0x50005`` -> {(condition, since_boot): on}; None when the text is not that."""
    head, sep, value = text.strip().partition("=")
    if head != "throttled" or not sep:
        return None
    try:
        bits = int(value, 16)
    except ValueError:
        return None
    return {(name, since): bool(bits >> bit & 1) for bit, name, since in THROTTLE_BITS}


class Throttling:
    """``vcgencmd get_throttled``, asked at most every THROTTLE_CACHE_S seconds (None where absent)."""

    def __init__(self, vcgencmd: str | None = None) -> None:
        self.vcgencmd = vcgencmd if vcgencmd is not None else shutil.which("vcgencmd")
        self._at = -THROTTLE_CACHE_S
        self._last: dict[tuple[str, bool], bool] | None = None

    def read(self) -> dict[tuple[str, bool], bool] | None:
        if self.vcgencmd is None:
            return None
        now = time.monotonic()
        if now - self._at < THROTTLE_CACHE_S:
            return self._last
        self._at = now
        try:
            proc = subprocess.run([self.vcgencmd, "get_throttled"], capture_output=True, text=True, timeout=2)
            self._last = parse_throttled(proc.stdout[:200]) if proc.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            self._last = None
        return self._last
