"""Judge a device's pre-flight facts (from ``probe.py``) against the bundle it is about to run.

Each check says what it found and, when it fails, the one thing to do about it. A failed check
stops the deploy before anything is copied; a warning (``ok is None``) is shown and let through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgevision.releases.manifest import Manifest
from edgevision.runtime.backends import release_hook
from edgevision.version import __version__

MIN_PYTHON = (3, 11)  # pyproject's requires-python


@dataclass(frozen=True)
class Wheels:
    """Which CPython versions a TFLite interpreter publishes Linux wheels for, per architecture."""

    package: str
    python: tuple[tuple[int, int], tuple[int, int]]
    glibc: dict[str, tuple[int, int]]  # arch -> minimum glibc of its manylinux wheels


# As published on PyPI when this was written (ai-edge-litert 2.3.0, tflite-runtime 2.14.0, the last).
# Only tflite-runtime publishes armv7l wheels (manylinux_2_34, cp39-cp311): a 32-bit Raspberry Pi OS bookworm
# runs it with Debian's numpy and OpenCV (python3-numpy, python3-opencv: PyPI has no armv7l wheels of them).
INTERPRETER_WHEELS = (
    Wheels("ai-edge-litert", ((3, 9), (3, 14)), {"x86_64": (2, 27), "aarch64": (2, 27)}),
    Wheels("tflite-runtime", ((3, 9), (3, 11)), {"x86_64": (2, 17), "aarch64": (2, 34), "armv7l": (2, 34)}),
)
# Architectures where pip finds no opencv-python-headless wheel: cv2 must come from the system.
SYSTEM_OPENCV_ARCHS = ("armv7l",)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None       # None: a warning
    detail: str
    fix: str = ""
    missing_package: bool = False  # the fix is installing a package on the device (bad input, not a failed check)


def _version(text: str | None) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in (text or "").split("-")[-1].split(".")[:3])
    except ValueError:
        return ()


def wheels_for(arch: str, python: tuple[int, ...], glibc: tuple[int, ...]) -> list[str]:
    return [w.package for w in INTERPRETER_WHEELS
            if arch in w.glibc and w.python[0] <= python[:2] <= w.python[1] and (not glibc or glibc >= w.glibc[arch])]


def evaluate(facts: dict[str, Any], manifest: Manifest, install: bool, bundle_bytes: int) -> list[Check]:
    checks: list[Check] = []
    arch, want = str(facts.get("arch")), str(manifest.profile.get("arch") or "")
    if want and arch != want:
        fix = "install the 64-bit OS (aarch64)" if arch in ("armv7l", "armv6l") else f"use a profile for {arch}"
        checks.append(Check("arch", False, f"{arch}, profile {manifest.profile.get('name')} is for {want}", fix))
    else:
        checks.append(Check("arch", True, f"{arch}{' (' + facts['board'] + ')' if facts.get('board') else ''}"))

    target = facts.get("target") or {}
    system_py = facts.get("system_python") or {}
    py_text = target.get("version") if not install and target.get("version") else system_py.get("version")
    py = _version(py_text)
    glibc = _version(facts.get("glibc"))
    wheels = wheels_for(arch, py, glibc)
    if py[:2] < MIN_PYTHON:
        oldest = ".".join(map(str, MIN_PYTHON))
        checks.append(Check("python", False, f"Python {py_text} is older than edgevision's {oldest}",
                            "upgrade the OS (Raspberry Pi OS bookworm has 3.11) or pass --remote-python"))
    elif not wheels:
        fix = ("use Python 3.11 (Raspberry Pi OS bookworm): tflite-runtime's last armv7l wheels are for 3.9-3.11, "
               "or install the 64-bit OS" if arch.startswith("armv") else
               "use Python 3.11-3.14 on a 64-bit OS (x86_64 or aarch64)")
        checks.append(Check("python", False, f"Python {py_text} on {arch} (glibc {facts.get('glibc')}): no "
                            "ai-edge-litert or tflite-runtime wheel exists for it", fix))
    else:
        checks.append(Check("python", True, f"Python {py_text}; interpreter wheels: {', '.join(wheels)}"))

    if install:
        if not system_py.get("ensurepip"):
            checks.append(Check("venv", False, "python3 cannot create virtualenvs (no ensurepip)",
                                "sudo apt install python3-venv"))
        else:
            checks.append(Check("edgevision", None, f"will be installed in {facts.get('venv_python')} "
                                "(venv with system site packages)"))
        if arch in SYSTEM_OPENCV_ARCHS:
            cv2 = system_py.get("cv2")
            checks.append(Check("opencv", bool(cv2),
                                f"OpenCV from the system Python ({cv2})" if cv2 else
                                f"no OpenCV for {arch} on PyPI and none in the system Python",
                                "" if cv2 else "sudo apt install python3-opencv python3-numpy"))
    elif target.get("error") or not target.get("edgevision"):
        where = target.get("path") or "the device"
        checks.append(Check("edgevision", False, f"edgevision is not installed for {where}",
                            "pass --install (a venv under the device root) or --remote-python PATH"))
    else:
        runtime = [f"{k} {target[k]}" for k in ("ai-edge-litert", "tflite-runtime") if target.get(k)]
        ok: bool | None = True if target["edgevision"] == __version__ else None
        detail = f"edgevision {target['edgevision']} ({', '.join(runtime) or 'no interpreter'}) at {target['path']}"
        if ok is None:
            detail += f"; this desktop has {__version__}"
        checks.append(Check("edgevision", ok if runtime else False, detail,
                            "" if runtime else "pass --install to add edgevision[device] and its interpreter"))

    source = manifest.runtime.source
    if source == "picamera2":
        reachable = bool(target.get("picamera2"))
        fix = "sudo apt install python3-picamera2"
        if target.get("venv") and not target.get("system_site_packages"):
            fix += "; recreate the venv with --system-site-packages (libcamera is a system package)"
        checks.append(Check("camera", bool(reachable or install),
                            "picamera2 importable" if reachable else "picamera2 not importable from the device's "
                            "Python", "" if reachable else fix))

    delegate = manifest.runtime.delegate
    delegates = ["cpu"] + (["edgetpu"] if facts.get("libedgetpu") else [])
    backend_checks = release_hook(manifest.profile, "preflight")
    if backend_checks is not None:  # a backend with needs of its own (a sensor's packager and firmware)
        checks.extend(Check(*c) for c in backend_checks(facts))
    elif delegate.startswith("edgetpu"):
        checks.extend(_edgetpu_checks(facts, delegate))
    else:
        checks.append(Check("delegate", True, f"{delegate} (available: {', '.join(delegates)})"))

    free = facts.get("free_mb")
    need = (bundle_bytes * 3) // (1024 * 1024) + 50 + (600 if install else 0)
    if isinstance(free, int) and free < need:
        checks.append(Check("disk", False, f"{free} MiB free under {facts.get('root')}, need ~{need} MiB",
                            "free some space or pass --root on a larger disk"))
    checks.append(Check("service", True if facts.get("systemd") else None,
                        "systemd" if facts.get("systemd") else "systemd is not running: a service would run under "
                        "edgevision's user-level supervisor (it does not start at boot)"))
    return checks


def _edgetpu_checks(facts: dict[str, Any], delegate: str) -> list[Check]:
    out = []
    lib = facts.get("libedgetpu")
    out.append(Check("libedgetpu", bool(lib), lib or "libedgetpu.so.1 not found",
                     "" if lib else "install libedgetpu1-std from Coral's apt repository (packages.cloud.google.com)"))
    kind = delegate.split(":")[1] if ":" in delegate else ""
    usb, pci = facts.get("coral_usb") or [], facts.get("coral_pci") or []
    if kind in ("", "usb") and usb:
        speed = usb[0].get("speed_mbps")
        slow = isinstance(speed, int) and speed < 5000
        out.append(Check("coral", None if slow else True, f"Coral USB {usb[0]['id']} ({usb[0]['state']}), "
                         f"{speed} Mbit/s" + (" = USB 2: expect 3-7x slower inference" if slow else ""),
                         "plug it into a USB 3 (blue) port" if slow else ""))
    elif kind in ("", "pci") and pci:
        out.append(Check("coral", True, f"Coral PCIe/M.2 {', '.join(pci)}"))
    else:
        out.append(Check("coral", False, f"no Coral {'USB Accelerator' if kind == 'usb' else 'Edge TPU'} found "
                         "(USB ids 1a6e:089a / 18d1:9302, or /dev/apex_0)", "attach the Coral and check lsusb / dmesg"))
    return out


def failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.ok is False]
