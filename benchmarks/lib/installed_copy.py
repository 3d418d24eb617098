"""edgevision as a wheel installs it, for timing a cold start on the device venv's packages.

The device venv (``make venvs``) holds edgevision as an editable install (``pip install -e``): every Python
started in it imports setuptools' editable finder from a ``.pth`` file, and each ``edgevision.*`` import goes
through that finder. A Pi installs a wheel, which pays neither. This builds, in a folder of the caller's, a
venv on the device venv's Python whose site-packages holds a compiled copy of the package (what installing
the pure-Python wheel puts there, and its console script) and reaches the device venv's other packages
through a ``.pth`` path line, which adds the folder without running the ``.pth`` files in it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SCRIPT = """#!{python}
import re
import sys
from edgevision.cli.main import main
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit(main())
"""


def _purelib(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                         check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


def installed_venv(root: Path, device_python: Path, into: Path) -> tuple[Path, Path]:
    """The venv's Python and its ``edgevision`` script; ``root`` is the checkout holding ``edgevision/``."""
    subprocess.run([str(device_python), "-m", "venv", "--without-pip", str(into)], check=True)
    python = into / "bin" / "python"
    site = _purelib(python)
    (site / "device-packages.pth").write_text(f"{_purelib(device_python)}\n")
    shutil.copytree(root / "edgevision", site / "edgevision", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([str(python), "-m", "compileall", "-q", str(site / "edgevision")], check=True)
    script = into / "bin" / "edgevision"
    script.write_text(SCRIPT.format(python=python))
    script.chmod(0o755)
    return python, script
