"""Which machine measured, as a short stable name for the records under benchmarks/results/.

Records from many machines sit side by side, one dated file per machine and day: the name must say the
machine at a glance and stay the same from one run to the next on it. It is built from what does not
change between runs (architecture, CPU model, usable cores), never from the hostname or the load.
The full fingerprint (board, memory, OS, kernel, interpreter...) goes inside the record.
"""

from __future__ import annotations

import platform
import re
import time
from pathlib import Path

# Words of a CPU model string that name no model: vendors' marks, "CPU", the clock, "n-Core Processor".
_NOISE = re.compile(r"\((?:r|tm|c)\)|\bcpu\b|\bprocessor\b|\b\d+-core\b|@.*$|\bwith\b.*$", re.IGNORECASE)


def slug(text: str, limit: int = 40) -> str:
    """Lower-case words joined by '-': only [a-z0-9-], at most ``limit`` characters, never empty."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:limit].rstrip("-") or "unknown"


def machine_slug(arch: str, cpu: str, cores: int) -> str:
    """e.g. ``x86-64-amd-epyc-7b13-2c``, ``aarch64-arm-cortex-a76-4c``."""
    return f"{slug(arch, 16)}-{slug(_NOISE.sub(' ', cpu))}-{cores}c"


def this_machine() -> str:
    """The slug of the machine this runs on (edgevision's own fingerprint functions read /proc)."""
    from edgevision.bench.fingerprint import cpu_model
    from edgevision.runtime.interpreter import usable_cores

    return machine_slug(platform.machine(), cpu_model(), usable_cores())


def dated_name(what: str = "", suffix: str = ".md", day: str | None = None, machine: str | None = None) -> str:
    """``YYYY-MM-DD[-what]-MACHINE.suffix``: the name of a record (UTC date, so a record's day is the same
    whichever time zone the machine is set to)."""
    day = day or time.strftime("%Y-%m-%d", time.gmtime())
    parts = [day, slug(what, 60)] if what else [day]
    return "-".join([*parts, machine or this_machine()]) + suffix


def load_average() -> float:
    """The 1-minute load average (-1 where /proc has none): a record says how busy the machine was."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError):
        return -1.0
