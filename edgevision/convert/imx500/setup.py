"""``edgevision toolchain install imx500``: Sony's IMX500 toolchain in a venv edgevision manages.

Like ``playwright install`` for browsers: a pip user has no Makefile, so the command that
``--target imx500`` names when the toolchain is missing sets it up itself. Model
Compression Toolkit and ``imxconv-tf`` need Python 3.11, TensorFlow 2.15 and numpy<2, so they
get their own venv under the user's data directory (``$XDG_DATA_HOME/edgevision/toolchains/
imx500``, or ``$EDGEVISION_TOOLCHAINS/imx500``), built beside it and moved into place only
once it works, and recorded with a marker file: running the command again does nothing
unless the recorded requirements differ or ``--force`` is given. It downloads about a
gigabyte from PyPI when the user asks for it, never at conversion time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgevision.errors import BadInput, CheckFailed

REQUIREMENTS = ("edge-mdt[tf]", "tensorflow-cpu==2.15.*", "numpy<2")
PYTHON_VERSION = (3, 11)
MARKER = "edgevision-toolchain.json"
HOME_ENV = "EDGEVISION_TOOLCHAINS"
COMMAND = "edgevision toolchain install imx500"

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


def toolchains_home() -> Path:
    """Where edgevision keeps toolchains: $EDGEVISION_TOOLCHAINS, else the XDG data directory."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data).expanduser() / "edgevision" / "toolchains"


def managed_venv() -> Path:
    return toolchains_home() / "imx500"


def managed_python() -> Path:
    return managed_venv() / "bin" / "python"


@dataclass(frozen=True)
class SetupPlan:
    """What the command will do (``--dry-run`` prints it; tests check it without installing)."""

    venv: Path
    python: str
    requirements: tuple[str, ...]
    installed: bool            # a working venv with the same requirements is already there
    java: bool

    def to_dict(self) -> dict[str, Any]:
        return {"venv": str(self.venv), "python": self.python, "requirements": list(self.requirements),
                "installed": self.installed, "java": self.java,
                "steps": [] if self.installed else [f"{self.python} -m venv {self.venv}",
                                                    f"{self.venv}/bin/pip install --upgrade pip",
                                                    f"{self.venv}/bin/pip install " + " ".join(
                                                        f"'{r}'" for r in self.requirements)]}

    def warnings(self) -> list[str]:
        """What the toolchain will still miss at conversion time (said after installing)."""
        return [] if self.java else ["imxconv-tf also needs Java at conversion time: sudo apt install "
                                     "openjdk-17-jre-headless"]


def _run(cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=False)


def python_version(python: str, run: Runner = _run) -> tuple[int, int] | None:
    try:
        proc = run([python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"])
    except OSError:
        return None
    if proc.returncode != 0:
        return None
    try:
        major, minor = (int(x) for x in proc.stdout.split()[:2])
    except ValueError:
        return None
    return major, minor


def find_python(explicit: str | None, run: Runner = _run) -> str:
    """A Python 3.11 interpreter: ``--python``, else ``python3.11`` on PATH; one line saying what to install."""
    want = ".".join(map(str, PYTHON_VERSION))
    candidates = [explicit] if explicit else [p for p in (shutil.which(f"python{want}"),) if p]
    if explicit is None and sys.version_info[:2] == PYTHON_VERSION:
        candidates.append(sys.executable)
    for cand in candidates:
        version = python_version(cand, run)
        if version == PYTHON_VERSION:
            return cand
        if explicit:
            got = "not a Python interpreter" if version is None else f"Python {version[0]}.{version[1]}"
            raise BadInput(f"--python {explicit}: {got}; Sony's IMX500 toolchain (TensorFlow 2.15) needs Python {want}")
    raise BadInput(f"the IMX500 toolchain needs Python {want} (TensorFlow 2.15 has no wheels for newer Pythons) and "
                   f"none is on PATH: install it (Debian/Ubuntu: sudo apt install python{want} python{want}-venv; or "
                   f"pyenv install {want}) and run `{COMMAND}` again, or pass --python PATH")


def installed_marker(venv: Path) -> dict[str, Any] | None:
    """The marker of a finished install whose python and imxconv-tf are still there, else None."""
    marker = venv / MARKER
    if not (marker.is_file() and (venv / "bin" / "python").exists() and (venv / "bin" / "imxconv-tf").is_file()):
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def plan(python: str | None = None, venv: Path | None = None, run: Runner = _run) -> SetupPlan:
    target = venv or managed_venv()
    marker = installed_marker(target)
    done = marker is not None and tuple(marker.get("requirements", ())) == REQUIREMENTS
    interpreter = str(marker.get("python", "")) if done and marker else find_python(python, run)
    return SetupPlan(target, interpreter, REQUIREMENTS, done, shutil.which("java") is not None)


def install(p: SetupPlan, force: bool = False, run: Runner = _run,
            on_step: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Build the venv beside its place, check it, then move it in; the marker is written last."""
    if p.installed and not force:
        return {**p.to_dict(), "changed": False}
    if force and p.installed:
        p = SetupPlan(p.venv, find_python(None if p.python == "" else p.python, run), p.requirements, False, p.java)
    p.venv.parent.mkdir(parents=True, exist_ok=True)
    partial = p.venv.with_name(p.venv.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    pip = str(partial / "bin" / "pip")
    steps = [("creating the venv", [p.python, "-m", "venv", str(partial)]),
             ("upgrading pip", [pip, "install", "--disable-pip-version-check", "-q", "--upgrade", "pip"]),
             ("installing " + " ".join(p.requirements) + " (about 1 GB)",
              [pip, "install", "--disable-pip-version-check", "-q", *p.requirements]),
             ("checking Model Compression Toolkit", [str(partial / "bin" / "python"), "-c",
                                                      "import model_compression_toolkit"])]
    for what, cmd in steps:
        if on_step:
            on_step(what)
        proc = run(cmd)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or ["no output"]
            shutil.rmtree(partial, ignore_errors=True)
            raise CheckFailed(f"{COMMAND}: {what} failed (exit {proc.returncode}): {tail[0][:300]}")
    if not (partial / "bin" / "imxconv-tf").is_file():
        shutil.rmtree(partial, ignore_errors=True)
        raise CheckFailed(f"{COMMAND}: the install finished but imxconv-tf is missing from {partial / 'bin'}")
    (partial / MARKER).write_text(json.dumps({"requirements": list(p.requirements), "python": p.python},
                                             indent=1), encoding="utf-8")
    shutil.rmtree(p.venv, ignore_errors=True)
    partial.rename(p.venv)  # the venv's scripts name their folder: fix the shebangs that point at .partial
    _retarget(p.venv, partial)
    return {**p.to_dict(), "installed": True, "changed": True}


def _retarget(venv: Path, old: Path) -> None:
    """Scripts and pyvenv.cfg written while the venv was at ``old`` point at ``venv`` instead."""
    old_s, new_s = str(old), str(venv)
    files = [venv / "pyvenv.cfg", *(f for f in (venv / "bin").iterdir() if f.is_file() and not f.is_symlink())]
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # a binary in bin/
        if old_s in text:
            f.write_text(text.replace(old_s, new_s), encoding="utf-8")
