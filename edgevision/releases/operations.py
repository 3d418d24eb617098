"""What `edgevision device …` does on the device: activate, start, roll back, report. No TensorFlow.

The safety logic lives here, on the device, so that a dropped SSH connection mid-deploy cannot
leave a half-switched device: activation holds the store's lock, starts the service, waits for
its first label, and restores the exact state from before if the new release does not start.
"""

from __future__ import annotations

import getpass
import json
import os
import time
from pathlib import Path
from typing import Any

from edgevision.errors import BadInput, CheckFailed, EdgevisionError
from edgevision.limits import limits
from edgevision.pipeline.drift import read_state
from edgevision.plainfile import read_regular, write_file
from edgevision.releases import device_secrets, labels_log
from edgevision.releases.manifest import MANIFEST, Manifest
from edgevision.releases.runtime_config import is_plain_name
from edgevision.releases.service import ServiceConfig, manager_for
from edgevision.releases.store import DeviceStore, Release
from edgevision.releases.unit import UNIT_NAME, UnitContext, find_template, render_unit
from edgevision.session.config import RunConfig
from edgevision.sinks.sample_store import summary as samples_summary
from edgevision.version import __version__


def check_runs_here(store: DeviceStore, release: Release) -> RunConfig:
    """The release's run configuration, as this device's edgevision reads it (with the device's own secrets):
    a sink option it does not know (a bundle from a newer edgevision) or a secret file with the wrong mode
    stops the switch before anything changes. The service keeps samples in ROOT/samples, its drift state in
    ROOT/drift.json, and compares with a baseline recorded on this device for this release when there is one."""
    device_secrets.present(store.root)  # a secret open to other users: its own error, with the chmod that fixes it
    baseline = store.baseline(release.manifest.id)
    try:
        config = release.manifest.runtime.run_config(release.path, store.labels_file, store.root, release.verified,
                                                     samples=store.samples_dir,
                                                     drift_profile=baseline if baseline.is_file() else None)
    except BadInput as exc:
        raise CheckFailed(f"this device's edgevision {__version__} cannot run {release.name} ({exc}): upgrade it "
                          "(edgevision deploy --install) or bundle without that sink") from None
    return config._replace(release=release.manifest.id, drift=config.drift._replace(state_file=store.drift_state))


def render_for(store: DeviceStore, release: Release, config: ServiceConfig) -> str:
    ctx = UnitContext(store.root, config.python, config.scope, getpass.getuser() if config.scope == "system" else None)
    text = render_unit(find_template(store.root).read_text(encoding="utf-8"), release.manifest, release.path, ctx,
                       store.labels_file)
    check_runs_here(store, release)
    return text


SERVED_FILE = "release.json"


def write_served(store: DeviceStore, release: Release) -> None:
    """Name the release the (constant) service runs; `device serve` reads it, verifies it, runs it."""
    store.ensure()
    write_file(store.service_dir / SERVED_FILE, json.dumps({"release": release.name, "id": release.manifest.id}) + "\n")


def served_name(store: DeviceStore) -> str | None:
    """The release the service was last told to run, or None before the first activation."""
    from edgevision.documents import read_json
    from edgevision.releases.release_schemas import ServedDoc

    path = store.service_dir / SERVED_FILE
    if not os.path.lexists(path):
        return None
    name = read_json(path, ServedDoc, "served release file", max_bytes=64 * 1024).release
    if not is_plain_name(name):
        raise BadInput(f"{path}: $.release: {name[:64]!r} is not a release name")
    return name


def served_config(store: DeviceStore) -> RunConfig:
    """The run configuration of the served release (default: current), after verifying it again: its
    manifest, every sha256, and every value of its runtime.json."""
    name = served_name(store) or store.link("current")
    if name is None:
        raise CheckFailed(f"{store.root}: no release to serve (deploy one first)")
    return check_runs_here(store, store.find(name))


def start_release(store: DeviceStore, release: Release, config: ServiceConfig, wait_s: float) -> dict[str, Any]:
    """Install the (constant) unit, name the release to serve, restart the service, return its first label."""
    text = render_for(store, release, config)
    manager = manager_for(store, config)
    manager.install(text)
    config.save(store)
    manager.stop()  # synchronous: after this, only the new process writes labels
    write_served(store, release)
    since = labels_log.mark(store.labels_file)
    manager.start()
    return labels_log.wait_first_label(store.labels_file, since, wait_s, manager.failure)


def _back_to(store: DeviceStore, name: str | None, config: ServiceConfig, wait_s: float) -> str:
    if name is None:
        manager_for(store, config).stop()
        return "there is no previous release, so the service was stopped"
    try:
        start_release(store, store.find(name), config, wait_s)
        return f"rolled back to {name}, which is running again"
    except EdgevisionError as exc:
        return f"rolled back to {name}, but it did not start either ({exc})"


def activate(store: DeviceStore, name: str, config: ServiceConfig | None, wait_s: float,
             keep: int) -> dict[str, Any]:
    """Switch ``current`` to a verified release; with a service, prove it labels or restore the state before."""
    with store.lock():
        release = store.find(name)
        before = store.activate(release)
        report: dict[str, Any] = {"release": release.name, "previous": store.link("previous"),
                                  "changed": before[0] != release.name}
        if config is not None:
            try:
                report["first_label"] = start_release(store, release, config, wait_s)
            except CheckFailed as exc:
                store.restore(before, reason=str(exc))
                raise CheckFailed(f"{release.name} did not start ({exc}); {_back_to(store, before[0], config, wait_s)}"
                                  ) from None
        report["pruned"] = store.prune(keep)
        return report


def rollback(store: DeviceStore, restart: bool, wait_s: float) -> dict[str, Any]:
    """Swap ``current`` and ``previous``; restart the service on it when one is installed."""
    with store.lock():
        before = (store.link("current"), store.link("previous"))
        new, old = store.rollback()
        report: dict[str, Any] = {"release": new, "previous": old}
        config = ServiceConfig.load(store)
        if config is not None and restart:
            try:
                report["first_label"] = start_release(store, store.find(new), config, wait_s)
            except CheckFailed as exc:
                store.restore(before, reason=str(exc))
                raise CheckFailed(f"{new} did not start ({exc}); {_back_to(store, before[0], config, wait_s)}"
                                  ) from None
        return report


def service_release(store: DeviceStore) -> str | None:
    """The release the service runs (which may lag ``current``)."""
    if not (store.service_dir / UNIT_NAME).is_file():
        return None
    return served_name(store)


def status(store: DeviceStore, n_labels: int = 5) -> dict[str, Any]:
    current, previous = store.link("current"), store.link("previous")
    releases = []
    import msgspec

    from edgevision.documents import read_log_tail
    from edgevision.releases.release_schemas import HistoryDoc

    for name in store.release_names():
        path = store.releases / name
        try:
            raw = read_regular(path / MANIFEST, MANIFEST, limits().manifest_bytes, follow=False)
            m = Manifest.from_json(raw, str(path / MANIFEST))
            info: dict[str, Any] = {"model": m.runtime.model, "profile": m.profile.get("name"), "id": m.id,
                                    "created": m.created, "source": m.runtime.source, "delegate": m.runtime.delegate}
        except (OSError, EdgevisionError) as exc:
            info = {"error": str(exc)}
        releases.append({"name": name, "current": name == current, "previous": name == previous,
                         "installed": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(path.stat().st_mtime)),
                         **info})
    service: dict[str, Any] = {"installed": False}
    try:
        config = ServiceConfig.load(store)
        if config is not None:
            st = manager_for(store, config).state()
            service = {"installed": st.installed, "manager": st.manager, "scope": config.scope, "state": st.state,
                       "main_pid": st.main_pid, "restarts": st.restarts, "last_exit": st.last_exit, "unit": st.unit,
                       "release": service_release(store)}
    except EdgevisionError as exc:  # a damaged state file: said in the report, the rest is still shown
        service = {"installed": None, "error": str(exc)}
    labels_tail = labels_log.tail(store.labels_file)
    events = labels_tail.records[-max(50, n_labels):]
    last = events[-1] if events else None
    age = round(time.time() - float(last["t_emit"]), 3) if last and isinstance(last.get("t_emit"), int | float) \
        else None
    history_tail = read_log_tail(store.history_file, HistoryDoc)
    history = [msgspec.to_builtins(h) for h in history_tail.records[-5:]]
    notes = labels_tail.notes(str(store.labels_file)) + history_tail.notes(str(store.history_file))
    return {"root": str(store.root), "edgevision": __version__, "current": current, "previous": previous,
            "releases": releases, "service": service,
            "labels": {"file": str(store.labels_file), "fps": labels_log.fps(events[-50:]),
                       "last_age_s": age,
                       "recent": events[-n_labels:] if n_labels > 0 else []},
            "drift": _drift_status(store, service.get("release") or current, notes),
            "samples": samples_summary(store.samples_dir),
            "history": history, "notes": notes}


def _drift_status(store: DeviceStore, release_name: str | None, notes: list[str]) -> dict[str, Any]:
    """The monitor's last saved state, and which profile the served release compares with (a damaged state
    file is a note)."""
    state = read_state(store.drift_state, notes)
    baseline = None
    if release_name:
        try:
            path = store.baseline(store.find(release_name).manifest.id)
            baseline = str(path) if path.is_file() else None
        except (EdgevisionError, OSError):
            baseline = None
    out: dict[str, Any] = {"state": None, "baseline": baseline}
    if state is not None:
        out.update({k: state.get(k) for k in ("state", "moved", "psi", "since", "updated", "window", "profile",
                                              "profile_origin")})
        updated = state.get("updated")
        out["age_s"] = round(time.time() - float(updated), 1) if isinstance(updated, int | float) else None
    return out


def labels_rotate(root: Path, max_mb: int) -> bool:
    """Keep the labels file under ``max_mb`` (run before each start of the service)."""
    return labels_log.rotate(DeviceStore(root).labels_file, max_mb * 1024 * 1024)
