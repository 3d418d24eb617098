"""Shared bits of the training benchmarks: machine load, result files, a quiet console."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]


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


def load_average() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError):
        return -1.0


def machine() -> dict[str, Any]:
    return {"cpu_count": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
            "load_1min": load_average(), "time": time.strftime("%Y-%m-%d %H:%M:%S")}


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({**result, "machine": machine()}, indent=2), encoding="utf-8")
    return path


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return -1.0
