"""Shared pieces of the training experiments: the sign-language digits, machine load, dated result files."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from benchmarks.lib.machine import dated_name, load_average

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results"


def _sign_digits() -> Path:
    """$EDGEVISION_SHARED_DATA, else ``shared/data/sign-language-digits`` beside the checkout or above it."""
    if os.environ.get("EDGEVISION_SHARED_DATA"):
        return Path(os.environ["EDGEVISION_SHARED_DATA"])
    for parent in REPO.parents:
        candidate = parent / "shared" / "data" / "sign-language-digits"
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "data" / "sign-language-digits"


SIGN_DIGITS = _sign_digits()


def machine() -> dict[str, Any]:
    return {"cpu_count": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
            "load_1min": load_average(), "time": time.strftime("%Y-%m-%d %H:%M:%S")}


def save(name: str, result: dict[str, Any]) -> Path:
    """The result as a dated record, ``results/YYYY-MM-DD-NAME-MACHINE.json`` (lib/machine.py)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / dated_name(name, ".json")
    path.write_text(json.dumps({**result, "machine": machine()}, indent=2), encoding="utf-8")
    return path


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return -1.0
