"""Why picamera2 did not import, in one line that names what to install.

``pip install picamera2`` succeeds on any machine, but the library only imports where its system
pieces are: libcamera's Python binding (``python3-libcamera``, reached from a venv only with
``--system-site-packages``) and kms++ (``python3-kms++``, which Raspberry Pi OS ships and Debian does not;
picamera2 imports it at import time for its DRM preview). A bare "install edgevision[pi]" for those
sends the user to reinstall what they already have (found on Debian trixie in the device lab).
"""

from __future__ import annotations

from edgevision.errors import BadInput, EdgevisionError, MissingDependency

# The module picamera2 could not import -> what provides it on a Pi.
SYSTEM_MODULES = {
    "libcamera": "libcamera's Python binding: `sudo apt install python3-libcamera`, and a venv made with "
                 "--system-site-packages",
    "pykms": "kms++'s Python binding: `sudo apt install python3-kms++` (Raspberry Pi OS)",
    "kms": "kms++'s Python binding: `sudo apt install python3-kms++` (Raspberry Pi OS)",
}


def picamera2_import_error(exc: ImportError, why: str) -> EdgevisionError:
    """The error to raise for ``exc``, raised by ``import picamera2`` (or one of its modules)."""
    name = exc.name or ""
    if name in ("", "picamera2"):
        return MissingDependency("picamera2", "pi", why)
    if name.startswith("picamera2."):   # picamera2 is there, one of its own modules is not
        return BadInput(f"{why}: picamera2 is installed but does not import ({exc})")
    missing = name.split(".")[0]
    hint = SYSTEM_MODULES.get(missing, f"install the package that provides '{missing}'")
    return BadInput(f"{why}: picamera2 is installed but cannot import '{missing}': {hint}")
