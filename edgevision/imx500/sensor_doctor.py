"""``edgevision doctor`` for the Raspberry Pi AI Camera: is everything the IMX500 path needs on this Pi?

One line per thing a user of the AI Camera has to get right, each with its fix: picamera2 and
its IMX500 helper importable; the sensor firmware that Raspberry Pi's ``imx500-firmware``
package installs (``/lib/firmware/imx500_loader.fpk`` and ``imx500_main.fpk``); ``imx500-package``
(apt ``imx500-tools``) to turn packerOut.zip into a network; the ``network.rpk`` itself, and
what its ``network_info.txt`` tells the sensor (input size, input normalization) against what
the network was converted for; the labels; an IMX500 sensor on the camera bus. With
``--source imx500`` it then loads the network and reads outputs from live frames.

The hardware is reached through ``Imx500Host`` (file system root, PATH lookup, the picamera2
import) and the source's factories, so tests replace exactly those and nothing else.
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.doctor.frame_checks import Check
from edgevision.errors import BadInput, MissingDependency
from edgevision.imx500.source_name import is_imx500_source

FIRMWARE = ("lib/firmware/imx500_loader.fpk", "lib/firmware/imx500_main.fpk")
RPK, PACKER, CARD = "network.rpk", "packerOut.zip", "imx500.json"
PICAMERA2_FIX = ("sudo apt install python3-picamera2, and run edgevision from a venv made with "
                 "--system-site-packages (pip's picamera2 cannot see libcamera)")
FIRMWARE_FIX = "sudo apt install imx500-firmware (or imx500-all), then reboot"
TOOLS_FIX = "sudo apt install imx500-tools"
CAMERA_FIX = ("connect the AI Camera with the power off (contacts of the ribbon cable the right way round), "
              "keep camera_auto_detect=1 in /boot/firmware/config.txt, reboot; `rpicam-hello --list-cameras` "
              "must list imx500")


def _import_picamera2() -> str:
    """picamera2's version once it and its IMX500 helper import (ImportError otherwise)."""
    mod = importlib.import_module("picamera2")
    importlib.import_module("picamera2.devices.imx500")
    try:
        from importlib.metadata import version

        return version("picamera2")
    except Exception:  # noqa: BLE001 - an apt install has no pip metadata
        return str(getattr(mod, "__version__", "")) or "installed"


@dataclass(frozen=True)
class Imx500Host:
    """The parts of the Pi the checks look at; tests point ``root`` at a tree of their own."""

    root: Path = Path("/")
    which: Callable[[str], str | None] = shutil.which
    import_picamera2: Callable[[], str] = _import_picamera2


@dataclass(frozen=True)
class Imx500Target:
    """What doctor was given, resolved: a .rpk, a deployed release or a convert output folder."""

    folder: Path
    rpk: Path | None
    packer: Path | None
    card: dict[str, Any] | None = field(default=None)


def resolve_target(model: Path) -> Imx500Target:
    from edgevision.imx500.sensor_backend import read_card

    if model.is_dir():
        folder, rpk = model, (model / RPK if (model / RPK).is_file() else None)
    elif model.suffix == ".rpk":
        folder, rpk = model.parent, model if model.is_file() else None
        if rpk is None:
            raise BadInput(f"{model}: IMX500 network not found")
    elif model.name in (PACKER, CARD) and model.is_file():
        folder, rpk = model.parent, (model.parent / RPK if (model.parent / RPK).is_file() else None)
    else:
        raise BadInput(f"{model}: not an IMX500 network (.rpk), release folder or `convert --target imx500` output")
    packer = folder / PACKER if (folder / PACKER).is_file() else None
    if rpk is None and packer is None:
        raise BadInput(f"{folder}: no {RPK} or {PACKER}; give the .rpk, the release folder, or the folder written "
                       "by `edgevision convert RUN --target imx500`")
    card = read_card(folder / CARD) if (folder / CARD).is_file() else None
    return Imx500Target(folder, rpk, packer, card)


def is_imx500_target(model: Path, source: str | None) -> bool:
    """Does doctor's MODEL (or --source) mean the AI Camera path?"""
    if is_imx500_source(source):
        return True
    if model.suffix == ".rpk" or model.name in (PACKER, CARD):
        return True
    return model.is_dir() and any((model / n).is_file() for n in (RPK, PACKER, CARD))


def picamera2_check(host: Imx500Host) -> Check:
    try:
        version = host.import_picamera2()
    except ImportError as exc:
        return Check("picamera2", "fail", f"picamera2 with its IMX500 helper does not import ({exc}); fix: "
                                          f"{PICAMERA2_FIX}")
    return Check("picamera2", "pass", f"picamera2 {version}, picamera2.devices.imx500 imports")


def firmware_check(host: Imx500Host) -> Check:
    missing = [f"/{f}" for f in FIRMWARE if not (host.root / f).is_file()]
    if missing:
        return Check("imx500 firmware", "fail", f"missing {', '.join(missing)}; fix: {FIRMWARE_FIX}")
    return Check("imx500 firmware", "pass", ", ".join(f"/{f}" for f in FIRMWARE))


def packager_check(host: Imx500Host, target: Imx500Target) -> Check:
    tool = host.which("imx500-package")
    if tool:
        return Check("imx500-package", "pass", tool)
    status = "warn" if target.rpk is not None else "fail"
    why = "needed to package a new network" if target.rpk else f"needed to turn {PACKER} into {RPK}"
    return Check("imx500-package", status, f"not on PATH ({why}); fix: {TOOLS_FIX}")


def network_checks(target: Imx500Target) -> list[Check]:
    """The .rpk is there, and what imx500-package wrote into it matches what the network was converted for."""
    from edgevision.imx500.rpk import card_mismatch, read_network_info, sensor_norm

    if target.rpk is None:
        fix = (f"imx500-package -i {target.packer} -o {target.folder}, or deploy with --profile rpi-ai-camera "
               "(it packages at install time)")
        return [Check("network", "fail", f"no {RPK} in {target.folder}; fix: {fix}")]
    size = target.rpk.stat().st_size
    try:
        info = read_network_info(target.rpk)
    except BadInput as exc:
        return [Check("network", "fail", f"{exc}; fix: package it again with imx500-package")]
    out = [Check("network", "pass", f"{target.rpk} ({size / 1024:.0f} KiB), input {info.input_format or '?'} "
                                    f"{'x'.join(map(str, info.input_size or ('?', '?')))}")]
    card = target.card
    if card is None:
        out.append(Check("sensor input", "info", f"no {CARD} beside the network (not converted by edgevision): "
                                                  f"the sensor applies {sensor_norm(info)}"))
        return out
    wrong = card_mismatch(info, card)
    if wrong:
        out.append(Check("sensor input", "fail", f"{wrong[0]}; fix: {wrong[1]}"))
    else:
        norm = card["target"]["normalization"]
        out.append(Check("sensor input", "pass", f"raw 0..255 RGB into the network (sensor gain 1, offset 0); "
                                                 f"normalization mean {norm.get('mean')} std {norm.get('std')} "
                                                 f"runs on the sensor as the network's first layer"))
    return out


def labels_check(target: Imx500Target, labels: Path | None) -> tuple[Check, Any]:
    from edgevision.imx500.sensor_backend import SensorClassifier

    try:
        clf = SensorClassifier(target.rpk or target.folder / RPK, labels)
    except BadInput as exc:
        return Check("labels", "fail", str(exc)), None
    n = len(clf.labels) if clf.labels else 0
    return Check("labels", "pass" if n else "warn", f"{n} labels from {clf.artifact.labels_origin}" if n else
                 "no labels.txt: events carry class indices; fix: put labels.txt beside the network"), clf


def camera_check(host: Imx500Host) -> Check:
    """An IMX500 among the V4L2 sub-devices, found the way picamera2's IMX500 helper finds it."""
    base = host.root / "sys/class/video4linux"
    found = []
    for sub in sorted(base.glob("v4l-subdev*")) if base.is_dir() else []:
        module = sub / "device/driver/module"
        try:
            if module.is_symlink() and "imx500" in os.readlink(module):
                found.append(sub.name)
        except OSError:
            continue
    if not found:
        return Check("camera", "fail", f"no IMX500 sensor on the camera bus; fix: {CAMERA_FIX}")
    return Check("camera", "pass", f"IMX500 sensor at /dev/{found[0]}")


def live_checks(source: Any, clf: Any, frames: int, timeout_s: float) -> tuple[dict[str, Any], list[Check]]:
    """Load the network onto the sensor, read ``frames`` frames: outputs arrive, fit the labels, and how fast."""
    from edgevision.doctor.diagnose import grab_frames

    try:
        info, got, _ages, fps = grab_frames(source, frames, timeout_s)
    except (BadInput, MissingDependency) as exc:
        return {}, [Check("live frames", "fail", str(exc))]
    src = {**info.to_dict(), "frames": len(got), "measured_fps": round(fps, 2),
           "frames_without_outputs": getattr(source, "frames_without_outputs", None)}
    if not got:
        return src, [Check("live frames", "fail", f"{info.name}: no frame with network outputs within {timeout_s:g} s"
                                                  " (the first load of a network takes minutes; run doctor again)")]
    checks = [Check("live frames", "pass", f"{len(got)} frames with outputs, {fps:.1f} FPS measured")]
    try:
        scores = [clf.scores_for_frame(f).scores for f in got]
    except BadInput as exc:
        return src, [*checks, Check("outputs", "fail", str(exc))]
    top = [clf.rank(s, k=1) for s in scores]
    first = top[-1][0] if top[-1] else None
    checks.append(Check("outputs", "pass", f"{scores[0].size} scores per frame; last frame: "
                                           f"{first.label if first else '?'} {first.score if first else 0:.2f}"))
    dnn = [f.sensor_ms for f in got if getattr(f, "sensor_ms", None) is not None]
    if dnn:
        checks.append(Check("sensor time", "info", f"DNN {float(np.median(dnn)):.2f} ms on the sensor (p50 of "
                                                   f"{len(dnn)} frames, as the sensor reports it)"))
    return src, checks


def diagnose_imx500(target: Imx500Target, host: Imx500Host | None = None, labels: Path | None = None,
                    source: Any = None, frames: int = 20, timeout_s: float = 15.0) -> Any:
    """Every check, in the order a user fixes them; live frames only when the static checks pass."""
    from edgevision.doctor.diagnose import DoctorReport

    host = host or Imx500Host()
    checks = [picamera2_check(host), firmware_check(host), packager_check(host, target)]
    checks += network_checks(target)
    lab, clf = labels_check(target, labels)
    checks.append(lab)
    checks.append(camera_check(host))
    runtime = clf.describe() if clf is not None else {"model": str(target.folder), "runtime": "imx500"}
    src = None
    if source is not None:
        if any(c.status == "fail" for c in checks) or clf is None:
            checks.append(Check("live frames", "skip", "fix the failed checks above first"))
        else:
            src, live = live_checks(source, clf, frames, timeout_s)
            checks += live
    return DoctorReport(runtime, tuple(checks), src)
