"""A wheel of the edgevision the desktop is running, for ``deploy --install`` from a source checkout.

A checkout's code (often ahead of any release) is what the user tested on the desktop, so that is what
the device gets: a wheel built from the checkout (pure Python, with the kit and profiles as data files)
is copied over and installed, instead of whatever version an index has. An installed edgevision
deploys ``edgevision[device]==<its own version>`` from the index instead.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from edgevision.errors import CheckFailed
from edgevision.version import __version__

_PACKAGE = Path(__file__).resolve().parents[1]


def checkout_root() -> Path | None:
    """The source checkout edgevision is imported from, or None for an installed copy."""
    root = _PACKAGE.parent
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if 'name = "edgevision"' in text else None


def index_spec() -> str:
    return f"edgevision[device]=={__version__}"


# What the wheel is made of (pyproject's packages and data-files); copied so the build never writes into the checkout.
SETUPTOOLS_MIN = 77  # pyproject's build-system requirement (SPDX license string)
WHEEL_SOURCES = ("edgevision", "pyproject.toml", "README.md", "train", "convert", "device/profiles", "device/kit")


def _setuptools_major() -> int:
    try:
        return int(version("setuptools").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return 0


def build_wheel(root: Path, out_dir: Path) -> Path:
    """``pip wheel`` of a copy of the checkout (no dependencies); offline when setuptools is installed."""
    src = out_dir / "src"
    for name in WHEEL_SOURCES:
        if (root / name).is_dir():
            shutil.copytree(root / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif (root / name).is_file():
            shutil.copy2(root / name, src / name)
    isolation = ["--no-build-isolation"] if _setuptools_major() >= SETUPTOOLS_MIN else []
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", *isolation, "--wheel-dir", str(out_dir),
           str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    wheels = sorted(out_dir.glob("edgevision-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise CheckFailed(f"building a wheel of {root} failed: {(proc.stderr.strip() or proc.stdout.strip())[-300:]}")
    return wheels[-1]
