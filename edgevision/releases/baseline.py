"""``edgevision device baseline``: record the reference profile of a known-good period on this device.

A model brought without images carries no profile, and a profile measured on training photos may not
look like this camera's view at all. Both are answered by measuring one here, while the model works: the
served release runs on its own source (the service is stopped meanwhile, since a camera has one reader,
and restarted after with the usual first-label check) and every frame's signals are recorded. The profile
is kept per release (``ROOT/baselines/<id>.json``); the service compares with it from its next start, in
place of the model's own. ``--clear`` goes back to the model's.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
from typing import Any

from edgevision.errors import CheckFailed
from edgevision.model.reference_profile import write_profile
from edgevision.pipeline.profile_recorder import ProfileRecorder
from edgevision.releases.operations import check_runs_here, served_name, start_release
from edgevision.releases.service import ServiceConfig, manager_for
from edgevision.releases.store import DeviceStore, Release
from edgevision.session.run import Run
from edgevision.sinks.registry import OutputsConfig


def _served(store: DeviceStore) -> Release:
    name = served_name(store) or store.link("current")
    if name is None:
        raise CheckFailed(f"{store.root}: no release to record a baseline for (deploy one first)")
    return store.find(name)


def record(store: DeviceStore, frames: int, seconds: float, wait_s: float = 60.0) -> dict[str, Any]:
    """Stop the service, run the served release for ``frames`` frames (at most ``seconds``), save the profile,
    start the service again. The profile is saved even if the service then fails to start (and that is said)."""
    with store.lock():
        release = _served(store)
        config = check_runs_here(store, release)
        service = ServiceConfig.load(store)
        was_running = service is not None and manager_for(store, service).state().running
        if was_running:
            manager_for(store, service).stop()
        path = store.baseline(release.manifest.id)
        first: dict[str, Any] | str | None = None
        try:
            profile, seen = _measure(config, frames, seconds)
            origin = f"device baseline: {seen} frames from {config.source.spec} on {socket.gethostname()}"
            profile = dataclasses.replace(profile, origin=origin)
            write_profile(profile, path)  # before the restart: the service reads it as it starts
            store.log("baseline", release=release.name, frames=seen)
        finally:
            first = _restart(store, release, service, wait_s) if was_running else None
        report: dict[str, Any] = {"release": release.name, "profile": str(path), "frames": seen,
                                  **profile.summary(), "service_restarted": was_running}
        if isinstance(first, dict):
            report["first_label"] = first
        elif first is not None:
            report["service_error"] = first
        return report


def _measure(config: Any, frames: int, seconds: float) -> tuple[Any, int]:
    """Run the release's model on its source with only a recorder attached; (profile, frames recorded)."""
    recorder = ProfileRecorder(frames)
    quiet = config._replace(outputs=OutputsConfig(), quiet=True, drift=config.drift._replace(enabled=False),
                            pipeline=config.pipeline._replace(max_frames=frames))
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.daemon = True
    timer.start()
    try:
        with Run(quiet, stop, extra_sinks=(recorder,)) as session:
            for _ in session.events():
                if recorder.done:
                    break
            labels = tuple(getattr(session.backend, "labels", None) or ())
    finally:
        timer.cancel()
    if recorder.frames < 10:
        raise CheckFailed(f"only {recorder.frames} frames in {seconds:g} s from {config.source.spec}; a baseline "
                          "needs at least 10 (is the camera delivering?)")
    return recorder.profile(labels, "device baseline"), recorder.frames


def _restart(store: DeviceStore, release: Release, service: ServiceConfig | None,
             wait_s: float) -> dict[str, Any] | str | None:
    if service is None:
        return None
    try:
        return start_release(store, release, service, wait_s)
    except CheckFailed as exc:
        return str(exc)


def clear(store: DeviceStore, wait_s: float = 60.0) -> dict[str, Any]:
    """Forget the served release's recorded baseline (back to the model's profile); restart a running service."""
    with store.lock():
        release = _served(store)
        path = store.baseline(release.manifest.id)
        existed = path.is_file()
        if existed:
            os.unlink(path)
            store.log("baseline-clear", release=release.name)
        service = ServiceConfig.load(store)
        restarted = existed and service is not None and manager_for(store, service).state().running
        first = _restart(store, release, service, wait_s) if restarted else None
        return {"release": release.name, "removed": existed, "service_restarted": restarted,
                **({"service_error": first} if isinstance(first, str) else {}),
                "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
