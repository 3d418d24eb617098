"""Pre-flight facts from a device, gathered before edgevision is known to be there.

This file is sent as a script over SSH (``python3 - --root R --python P``), so it uses only
the standard library and runs on old system Pythons (3.7, as on a Coral Dev Board's Mendel
Linux), where edgevision itself cannot be installed: it must be able to say why. It only reads.
It prints one JSON object; deploy's pre-flight judges it on the desktop. With ``--frame NONCE`` the
object goes between two marker lines (the format of ``edgevision.console.answer_frame``), so that what the
device's login shell prints of its own cannot be taken for it.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import os
import platform
import shutil
import socket
import subprocess
import sys

CORAL_USB_IDS = {"1a6e:089a": "bootloader (firmware loads when a model first runs)", "18d1:9302": "ready"}

# Run by the target interpreter: what it has, without importing anything heavy.
TARGET_SNIPPET = r"""
import json, os, sys, importlib.util
def ver(dist):
    try:
        from importlib.metadata import version
        return version(dist)
    except Exception:
        return None
cfg = os.path.join(sys.prefix, "pyvenv.cfg")
ssp = None
if os.path.isfile(cfg):
    with open(cfg) as fh:
        for line in fh:
            k, _, v = line.partition("=")
            if k.strip() == "include-system-site-packages":
                ssp = v.strip().lower() == "true"
out = {"path": sys.executable, "version": ".".join(map(str, sys.version_info[:3])), "prefix": sys.prefix,
       "venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix), "system_site_packages": ssp,
       "edgevision": ver("edgevision"), "ai-edge-litert": ver("ai-edge-litert"),
       "tflite-runtime": ver("tflite-runtime"), "numpy": ver("numpy"),
       "opencv": ver("opencv-python-headless") or ver("opencv-python"),
       "picamera2": importlib.util.find_spec("picamera2") is not None,
       "pycoral": importlib.util.find_spec("pycoral") is not None}
print(json.dumps(out))
"""


def read(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace").replace("\x00", "").strip()
    except OSError:
        return None


def os_release() -> str | None:
    text = read("/etc/os-release") or ""
    for line in text.splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return None


def system_cv2() -> str | None:
    """Where the system Python finds cv2 (Debian's python3-opencv), without importing it."""
    try:
        spec = importlib.util.find_spec("cv2")
    except (ImportError, ValueError):
        return None
    return (spec.origin or "cv2") if spec else None


def mem_mb() -> int | None:
    for line in (read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return None


def coral_usb() -> list[dict]:
    found = []
    for dev in sorted(glob.glob("/sys/bus/usb/devices/*")):
        vid, pid = read(os.path.join(dev, "idVendor")), read(os.path.join(dev, "idProduct"))
        key = f"{vid}:{pid}"
        if key in CORAL_USB_IDS:
            speed = read(os.path.join(dev, "speed"))
            found.append({"id": key, "state": CORAL_USB_IDS[key], "sysfs": dev,
                          "speed_mbps": int(float(speed)) if speed else None})
    return found


def libedgetpu() -> str | None:
    import ctypes.util

    for pattern in ("/usr/lib/*/libedgetpu.so.1*", "/usr/lib/libedgetpu.so.1*", "/usr/local/lib/libedgetpu.so.1*"):
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    return ctypes.util.find_library("edgetpu")


def target_python(candidates: list[str]) -> dict:
    for cand in candidates:
        path = os.path.expanduser(cand)
        exe = path if os.sep in path else shutil.which(path)
        if not exe or not os.path.isfile(exe):
            continue
        try:
            out = subprocess.run([exe, "-c", TARGET_SNIPPET], capture_output=True, timeout=60,
                                  env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        except (OSError, subprocess.TimeoutExpired) as exc:
            return {"path": exe, "error": str(exc)}
        if out.returncode != 0:
            return {"path": exe, "error": out.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]}
        try:
            info = json.loads(out.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
        except (ValueError, IndexError):
            return {"path": exe, "error": "it printed no result"}
        if not isinstance(info, dict):
            return {"path": exe, "error": "it printed no result"}
        info["path"] = exe  # keep the venv path, not the interpreter it links to
        return info
    return {"path": None, "error": "not found: " + ", ".join(candidates)}


def user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return os.environ.get("USER") or str(uid)


def free_mb(path: str) -> int | None:
    p = path
    while p and not os.path.exists(p):
        p = os.path.dirname(p)
    try:
        return shutil.disk_usage(p or "/").free // (1024 * 1024)
    except OSError:
        return None


def link(root: str, name: str) -> str | None:
    p = os.path.join(root, name)
    return os.path.basename(os.readlink(p)) if os.path.islink(p) else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", required=True)
    ap.add_argument("--python", default="")
    ap.add_argument("--tool", action="append", default=[], help="a program to look for on the PATH")
    ap.add_argument("--file", action="append", default=[], help="a file whose presence to report")
    ap.add_argument("--frame", default="", help="a nonce: print the result between two lines that name it")
    args = ap.parse_args(argv)
    root = os.path.abspath(os.path.expanduser(args.root))
    venv_python = os.path.join(root, "venv", "bin", "python")
    candidates = [args.python] if args.python else [venv_python, "python3"]
    uid = os.geteuid()
    sudo = None
    if uid != 0 and shutil.which("sudo"):
        sudo = subprocess.run(["sudo", "-n", "true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=10).returncode == 0
    facts = {
        "probe": 1, "hostname": socket.gethostname(), "uid": uid, "user": user_name(uid),
        "home": os.path.expanduser("~"), "arch": platform.machine(), "system": platform.system(),
        "os": os_release(), "glibc": "-".join(platform.libc_ver()), "kernel": platform.release(),
        "board": read("/proc/device-tree/model") or read("/sys/firmware/devicetree/base/model"),
        "cores": os.cpu_count(), "mem_mb": mem_mb(),
        "system_python": {"path": sys.executable, "version": ".".join(map(str, sys.version_info[:3])),
                          "ensurepip": importlib.util.find_spec("ensurepip") is not None,
                          "cv2": system_cv2()},
        "root": root, "root_exists": os.path.isdir(root), "free_mb": free_mb(root),
        "target": target_python(candidates), "venv_python": venv_python,
        "libedgetpu": libedgetpu(), "coral_usb": coral_usb(), "coral_pci": sorted(glob.glob("/dev/apex_*")),
        "systemd": os.path.isdir("/run/systemd/system"), "sudo_nopasswd": sudo,
        "current": link(root, "current"), "previous": link(root, "previous"),
        # what the backends of the registry need on a device (--tool, --file: a sensor's packager, firmware)
        "tools": {name: shutil.which(name) for name in args.tool},
        "files": [f for f in args.file if os.path.isfile(f)],
    }
    text = json.dumps(facts)
    if args.frame:
        text = f"-----BEGIN EDGEVISION ANSWER {args.frame}-----\n{text}\n-----END EDGEVISION ANSWER {args.frame}-----"
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
