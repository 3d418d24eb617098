"""``edgevision device …``: the device side of deploy (status, rollback, verify, install, activate, service).

Runs on the Raspberry Pi / Coral without TensorFlow. ``edgevision deploy`` calls these over SSH;
they are just as usable by hand on the device.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from edgevision.cli.arguments import CliParser, Commands, argument, option
from edgevision.cli.common import err_console, handle_errors, out_console, print_json
from edgevision.console import inert, inert_markup

ROOT_HELP = "Device root holding releases/ and the current/previous links (default ~/edgevision or " \
            "$EDGEVISION_DEVICE_ROOT)."


def _store(root: Path | None) -> Any:
    """The device store; every ``device`` command (and the service it starts) masks group and other write bits
    first, so nothing it or its children create is writable by others, whatever umask it was started with."""
    from edgevision.releases.store import DeviceStore, default_root

    os.umask(os.umask(0o022) | 0o022)
    return DeviceStore((root or default_root()).expanduser().absolute())


def _root(p: CliParser) -> None:
    option(p, "--root", kind=Path, help=ROOT_HELP)


def _json(p: CliParser, help: str = "Print one JSON object.") -> None:
    option(p, "--json", kind=bool, default=False, dest="json_out", help=help)


def _wait(p: CliParser, help: str = "Seconds to wait for the first label.") -> None:
    option(p, "--wait", kind=float, default=60.0, min=1, help=help)


def _manager(p: CliParser) -> None:
    option(p, "--manager", default="auto", help="auto | systemd | supervisor")


def register(commands: Commands) -> None:
    device = commands.group("device", "On the device: releases, the active model, the service.",
                            epilog="Examples:\n\n  edgevision device status\n\n  edgevision device rollback\n\n"
                                   "  edgevision device service logs")

    p = device.add("status", status, epilog="Examples:\n\n  edgevision device status\n\n"
                                            "  edgevision device status --labels 10 --json")
    _root(p)
    option(p, "--labels", kind=int, default=5, min=0, help="Recent label events to show.")
    _json(p)

    p = device.add("rollback", rollback, epilog="Examples:\n\n  edgevision device rollback\n\n"
                                                "  edgevision device rollback --wait 120")
    _root(p)
    option(p, "--restart", kind=bool, default=True, negative="--no-restart",
           help="Restart the service on the previous model (if installed).")
    _wait(p)
    _json(p)

    p = device.add("verify", verify, epilog="Examples:\n\n  edgevision device verify shapes_rpi5.tar.gz\n\n"
                                            "  edgevision device verify shapes_int8-1f2e3d4c5b6a7988")
    argument(p, "bundle", kind=str, help="A bundle directory or .tar.gz, or an installed release.")
    _root(p)
    _json(p, "Print the manifest as JSON.")

    p = device.add("install", install, epilog="Example:\n\n  edgevision device install /tmp/shapes_rpi5.tar.gz "
                                              "--remove")
    argument(p, "bundle", help="A bundle .tar.gz or directory.")
    _root(p)
    option(p, "--expect-id", help="Refuse unless the bundle has this id.")
    option(p, "--remove", kind=bool, default=False, help="Delete the upload from ROOT/incoming after.")
    _json(p)

    p = device.add("activate", activate, epilog="Examples:\n\n  edgevision device activate 1f2e3d4c5b6a7988\n\n"
                                                "  edgevision device activate shapes_int8-1f2e3d4c5b6a7988 --service "
                                                "--wait 90")
    argument(p, "release", kind=str, help="Release name, id, or a unique prefix.")
    _root(p)
    option(p, "--service", kind=bool, default=False, dest="with_service", help="Install and restart the service, "
           "wait for its first label, restore the previous state if it fails.")
    option(p, "--restart", kind=bool, default=True, negative="--no-restart", help="Without --service: restart an "
           "already installed service on the new release (same safety net).")
    _manager(p)
    option(p, "--python", help="Interpreter for the service (default: this one).")
    _wait(p)
    option(p, "--keep", kind=int, default=3, min=0, help="Older releases to keep besides current/previous.")
    _json(p)

    service = device.group("service", "The labelling service (systemd, or edgevision's supervisor).",
                           epilog="Examples:\n\n  edgevision device service restart\n\n"
                                  "  edgevision device service logs -n 100")
    p = service.add("restart", service_restart, epilog="Example:\n\n  edgevision device service restart --wait 90")
    _root(p)
    _wait(p, "Seconds to wait for a label.")
    _manager(p)
    p = service.add("stop", service_stop, epilog="Example:\n\n  edgevision device service stop")
    _root(p)
    p = service.add("logs", service_logs, epilog="Example:\n\n  edgevision device service logs -n 100")
    _root(p)
    option(p, "-n", "--lines", kind=int, default=40, min=1, help="How many lines.")
    p = service.add("unit", service_unit, epilog="Examples:\n\n  edgevision device service unit\n\n"
                                                 "  edgevision device service unit --scope user > edgevision.service")
    _root(p)
    argument(p, "release", kind=str, nargs="?", help="Release (default: current).")
    option(p, "--scope", default="system", help="system | user")
    option(p, "--python", help="Interpreter (default: this one).")

    secret = device.group("secret", "The device's own credentials and keys, at fixed names under ROOT/secrets/.",
                          epilog="Examples:\n\n  edgevision device secret set mqtt-credentials\n\n"
                                 "  edgevision device secret set mqtt-ca.pem --from ca.pem\n\n"
                                 "  edgevision device secret list")
    p = secret.add("set", secret_set, epilog="Examples:\n\n  edgevision device secret set source-credentials\n\n"
                                             "  edgevision device secret set web-token < token.txt\n\n"
                                             "  edgevision device secret set mqtt-key.pem --from client.key")
    argument(p, "name", kind=str, help="Which one: source-credentials, mqtt-credentials (user:password), "
                                       "web-token, mqtt-ca.pem, mqtt-cert.pem, mqtt-key.pem.")
    option(p, "--from", kind=Path, dest="from_file", help="Copy it from this file (default: one line from stdin, "
                                                          "asked for without echo on a terminal).")
    _root(p)
    p = secret.add("list", secret_list, epilog="Example:\n\n  edgevision device secret list")
    _root(p)
    _json(p)
    p = secret.add("remove", secret_remove, epilog="Example:\n\n  edgevision device secret remove web-token")
    argument(p, "name", kind=str, help="Which one (see `edgevision device secret list`).")
    _root(p)

    p = device.add("baseline", baseline, epilog="Examples:\n\n  edgevision device baseline\n\n"
                                                "  edgevision device baseline --frames 1200 --seconds 120\n\n"
                                                "  edgevision device baseline --clear")
    _root(p)
    option(p, "--frames", kind=int, default=600, min=10, max=1_000_000, help="Frames to record.")
    option(p, "--seconds", kind=float, default=300.0, min=1, help="Give up after this many seconds.")
    option(p, "--clear", kind=bool, default=False, help="Forget the recorded baseline (back to the model's profile).")
    _wait(p, "Seconds to wait for the restarted service's first label.")
    _json(p)

    samples = device.group("samples", "Frames the service kept for labelling.",
                           epilog="Examples:\n\n  edgevision device samples pull pi@cam1 --out field/cam1\n\n"
                                  "  edgevision train data/digits --out runs/digits2 --add field/cam1")
    p = samples.add("pull", samples_pull, epilog="Examples:\n\n  edgevision device samples pull pi@cam1 --out "
                                                 "field/cam1\n\n  edgevision device samples pull ssh://pi@cam1:2222 "
                                                 "--out field/cam1 --clear")
    argument(p, "host", kind=str, help="[user@]host or ssh://[user@]host[:port].")
    option(p, "--out", kind=Path, required=True, help="Folder to lay the samples out in (one sub-folder per "
                                                            "predicted label, scores.csv).")
    option(p, "--root", default="~/edgevision", help="Device root directory on the device.")
    option(p, "--remote-python", help="Interpreter on the device (default: ROOT/venv/bin/python, else python3).")
    option(p, "--clear", kind=bool, default=False, help="Delete the pulled samples on the device afterwards.")
    option(p, "--port", kind=int, min=1, max=65535, help="SSH port.")
    option(p, "--identity", "-i", kind=Path, help="SSH private key.")
    option(p, "--known-hosts", kind=Path, help="known_hosts file to check the host key against (default: ssh's).")
    option(p, "--ssh-config", "-F", kind=Path, help="ssh_config file.")
    option(p, "--ssh-option", "-o", many=True, metavar="KEY=VALUE", help="Extra ssh -o KEY=VALUE.")
    _json(p)
    _root(samples.add("export", samples_export, hidden=True))
    p = samples.add("clear", samples_clear, epilog="Example:\n\n  edgevision device samples clear")
    _root(p)
    option(p, "--upto", kind=float, help="Only samples taken at or before this Unix time.")

    _root(device.add("supervise", supervise, hidden=True))
    _root(device.add("serve", serve, hidden=True))
    p = device.add("labels-rotate", labels_rotate, hidden=True)
    _root(p)
    option(p, "--max-mb", kind=int, default=64, min=1, help="Rotate the labels file past this size.")


@handle_errors
def status(*, root: Path | None, labels: int, json_out: bool) -> None:
    """Installed models, the active one, service state, recent labels and FPS."""
    from edgevision.releases.operations import status as device_status

    data = device_status(_store(root), labels)
    if json_out:
        print_json(data)
    else:
        _render_status(data)


@handle_errors
def rollback(*, root: Path | None, restart: bool, wait: float, json_out: bool) -> None:
    """Go back to the previous model (current and previous swap places)."""
    from edgevision.releases.operations import rollback as do_rollback

    report = do_rollback(_store(root), restart, wait)
    _done(report, json_out, f"rolled back: current is {report['release']} (previous {report['previous']})")


@handle_errors
def verify(*, bundle: str, root: Path | None, json_out: bool) -> None:
    """Check every file of a bundle against its manifest (exit 1 when anything differs)."""
    from edgevision.releases.archive import safe_extract
    from edgevision.releases.manifest import verify_bundle_dir

    where = Path(bundle)
    if where.is_dir():
        manifest = verify_bundle_dir(where)
    elif os.path.lexists(where):  # an archive: safe_extract opens it only if it is a regular file
        with tempfile.TemporaryDirectory(prefix="ev-verify-") as tmp:
            safe_extract(where, Path(tmp))
            manifest = verify_bundle_dir(Path(tmp))
    else:
        manifest = _store(root).find(bundle).manifest
    _done(manifest.to_dict(), json_out, f"ok: {bundle} matches its manifest (id {manifest.id}, "
                                        f"{len(manifest.files)} files, profile {manifest.profile.get('name')})")


@handle_errors
def install(*, bundle: Path, root: Path | None, expect_id: str | None, remove: bool, json_out: bool) -> None:
    """Verify a bundle and unpack it into releases/ (does not switch; see `activate`)."""
    store = _store(root)
    try:
        with store.lock():
            release, new = store.install(bundle, expect_id)
    finally:
        if remove and bundle.is_file() and bundle.resolve().parent == store.incoming.resolve():
            bundle.unlink()
    _done({"release": release.name, "id": release.manifest.id, "new": new}, json_out,
          f"{'installed' if new else 'already installed'}: {release.name}")


@handle_errors
def activate(*, release: str, root: Path | None, with_service: bool, restart: bool, manager: str,
             python: str | None, wait: float, keep: int, json_out: bool) -> None:
    """Make an installed release current (one atomic rename; the old one becomes previous)."""
    from edgevision.releases.operations import activate as do_activate
    from edgevision.releases.service import ServiceConfig, resolve_config

    store = _store(root)
    installed = ServiceConfig.load(store)
    config = resolve_config(manager, python, installed) if with_service else installed if restart else None
    report = do_activate(store, release, config, wait, keep)
    label = report.get("first_label")
    _done(report, json_out, f"current: {report['release']} (previous {report['previous']})"
                            + (f"; first label {label.get('label')!r}" if label else ""))


@handle_errors
def service_restart(*, root: Path | None, wait: float, manager: str) -> None:
    """(Re)start the service on the current release and wait for its first label."""
    from edgevision.errors import CheckFailed
    from edgevision.releases.operations import start_release
    from edgevision.releases.service import ServiceConfig, resolve_config

    store = _store(root)
    current = store.link("current")
    if current is None:
        raise CheckFailed(f"{store.root}: no current release; deploy one first")
    with store.lock():
        event = start_release(store, store.find(current), resolve_config(manager, None, ServiceConfig.load(store)),
                              wait)
    err_console().print(inert(f"running {current}; first label {event.get('label')!r}"), markup=False,
                        highlight=False)


@handle_errors
def service_stop(*, root: Path | None) -> None:
    """Stop the service (it stays installed)."""
    from edgevision.releases.service import ServiceConfig, manager_for

    store = _store(root)
    config = ServiceConfig.load(store)
    if config is not None:
        manager_for(store, config).stop()
    err_console().print("stopped" if config else "no service installed")


@handle_errors
def service_logs(*, root: Path | None, lines: int) -> None:
    """The service's recent stderr (journal or the supervisor's log)."""
    from edgevision.releases.service import ServiceConfig, manager_for

    store = _store(root)
    config = ServiceConfig.load(store)
    for line in manager_for(store, config).logs(lines) if config else []:
        print(inert(line))


@handle_errors
def service_unit(*, root: Path | None, release: str | None, scope: str, python: str | None) -> None:
    """Print the unit file a release would get (to review it, or to install it by hand)."""
    import sys

    from edgevision.errors import BadInput
    from edgevision.releases.operations import render_for
    from edgevision.releases.service import ServiceConfig

    store = _store(root)
    name = release or store.link("current")
    if name is None or scope not in ("system", "user"):
        raise BadInput("no release given and none is current" if name is None else "--scope: system or user")
    sys.stdout.write(render_for(store, store.find(name), ServiceConfig("systemd", scope, python or sys.executable)))


@handle_errors
def secret_set(*, name: str, from_file: Path | None, root: Path | None) -> None:
    """Store a credential, key or token where the service reads it (mode 600; a certificate 644); never shown.

    A bundle never carries these: a release's camera URL, broker and live view get their logins here.
    """
    import sys

    from edgevision.errors import BadInput
    from edgevision.releases import device_secrets

    store_root = (root or _default_root()).expanduser().absolute()
    if from_file is not None:
        data = _read_bounded(from_file, device_secrets.MAX_BYTES)
    elif name.endswith(".pem"):
        if sys.stdin.isatty():
            raise BadInput(f"{name}: give the file with --from FILE (or on stdin)")
        data = sys.stdin.buffer.read(device_secrets.MAX_BYTES + 1)
    elif sys.stdin.isatty():
        import getpass

        data = (getpass.getpass(f"{name} (not shown): ") + "\n").encode()
    else:
        data = sys.stdin.buffer.readline(device_secrets.MAX_BYTES + 1)
    path = device_secrets.write(store_root, name, data)
    err_console().print(inert(f"stored {path} (mode {path.stat().st_mode & 0o777:o})"), markup=False,
                        highlight=False)


@handle_errors
def secret_list(*, root: Path | None, json_out: bool) -> None:
    """Which secrets this device has, their modes and what is wrong with any of them (never a value)."""
    from rich.table import Table

    from edgevision.releases import device_secrets

    rows = device_secrets.listing((root or _default_root()).expanduser().absolute())
    if json_out:
        print_json(rows)
        return
    t = Table("name", "present", "mode", "problem", title="device secrets (ROOT/secrets/)")
    for r in rows:
        t.add_row(r["name"], "yes" if r["present"] else "", r.get("mode", ""), inert_markup(r.get("problem", "")))
    out_console().print(t)


@handle_errors
def secret_remove(*, name: str, root: Path | None) -> None:
    """Delete one of the device's secrets."""
    from edgevision.releases import device_secrets

    gone = device_secrets.remove((root or _default_root()).expanduser().absolute(), name)
    err_console().print(f"removed {name}" if gone else f"{name}: not set", markup=False, highlight=False)


def _default_root() -> Path:
    from edgevision.releases.store import default_root

    return default_root()


def _read_bounded(path: Path, limit: int) -> bytes:
    """A regular file's bytes, refused past ``limit`` (opened without blocking on a FIFO)."""
    import os
    import stat

    from edgevision.errors import BadInput

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise BadInput(f"--from {path}: not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise BadInput(f"--from {path}: more than {limit} bytes")
    return data


@handle_errors
def supervise(*, root: Path | None) -> None:
    """Run the installed unit in the foreground (what `service restart` starts where systemd is absent)."""
    from edgevision.releases.supervisor import supervise as run_supervisor
    from edgevision.releases.unit import UNIT_NAME

    store = _store(root)
    raise SystemExit(run_supervisor(store.service_dir / UNIT_NAME, store.service_dir))


def serve(*, root: Path | None) -> None:
    """What the service runs: verify the served release again and run its model in this process.

    The unit is the same for every release; the release's runtime.json is read and validated
    here (never pasted into the unit or a shell), so a bundle can only ever choose data.
    """
    from edgevision.cli.run_exec import run_config
    from edgevision.releases.operations import served_config

    handle_errors(lambda: run_config(served_config(_store(root))))()


@handle_errors
def baseline(*, root: Path | None, frames: int, seconds: float, clear: bool, wait: float, json_out: bool) -> None:
    """Record the reference profile of a known-good period from this device's camera (for drift).

    The service is stopped while the served release runs on its source for FRAMES frames, then started
    again; from then on its drift monitor compares with this profile instead of the model's own."""
    from edgevision.releases import baseline as baselines

    store = _store(root)
    if clear:
        report = baselines.clear(store, wait)
        _done(report, json_out, f"{report['release']}: " + ("recorded baseline removed; the model's own profile "
                                                               "applies" if report["removed"] else "no recorded "
                                                               "baseline"))
        return
    with err_console().status(f"recording {frames} frames"):
        report = baselines.record(store, frames, seconds, wait)
    med = report["median"]
    _done(report, json_out, f"baseline for {report['release']}: {report['frames']} frames -> {report['profile']}"
                            f" (median confidence {med.get('confidence', 0):.2f}, brightness "
                            f"{med.get('brightness', 0):.0f})" + ("" if "service_error" not in report else
                                                                  f"; the service did not restart: "
                                                                  f"{report['service_error']}"))
    if "service_error" in report:
        raise SystemExit(1)


@handle_errors
def samples_pull(*, host: str, out: Path, root: str, remote_python: str | None, clear: bool, port: int | None,
                 identity: Path | None, known_hosts: Path | None, ssh_config: Path | None,
                 ssh_option: list[str] | None, json_out: bool) -> None:
    """Bring the device's kept frames here over SSH: one folder per predicted label and a CSV of scores."""
    from edgevision.deploy.samples_pull import pull
    from edgevision.deploy.ssh import Ssh, SshOptions, SshTarget

    ssh = Ssh(SshTarget.parse(host, port), SshOptions(identity=identity, known_hosts=known_hosts, config=ssh_config,
                                                      options=tuple(ssh_option or ()), multiplex=False))
    with err_console().status(f"pulling samples from {ssh.target}"):
        report = pull(ssh, root, out, remote_python, clear)
    labels = ", ".join(f"{k} {v}" for k, v in report["labels"].items())
    _done(report, json_out, f"{report['pulled']} new samples from {report['host']} in {report['folder']}"
                            + (f" ({labels})" if labels else "") + "; correct the folders, then: edgevision train "
                            f"DATA --add {report['folder']}")


@handle_errors
def samples_export(*, root: Path | None) -> None:
    """Write the kept samples as a tar stream on stdout (what `samples pull` reads over SSH)."""
    import sys

    from edgevision.releases.samples_export import export

    export(_store(root).samples_dir, sys.stdout.buffer)
    sys.stdout.buffer.flush()


@handle_errors
def samples_clear(*, root: Path | None, upto: float | None) -> None:
    """Delete kept samples on the device (all, or those taken at or before --upto)."""
    from edgevision.sinks.sample_store import clear

    n = clear(_store(root).samples_dir, upto)
    err_console().print(f"{n} samples deleted")


@handle_errors
def labels_rotate(*, root: Path | None, max_mb: int) -> None:
    """Keep the labels file bounded (run by the service before each start)."""
    from edgevision.releases.operations import labels_rotate as rotate

    rotate(_store(root).root, max_mb)


def _done(data: dict[str, Any], json_out: bool, message: str) -> None:
    """``--json``: the data; otherwise one line, inert (it names releases, profiles, labels: data from bundles)."""
    if json_out:
        print_json(data)
    else:
        out_console().print(inert(message), markup=False, highlight=False)


def _render_status(d: dict[str, Any]) -> None:
    """The status as tables and lines; every name, label and source is escaped (``e``): bundles and the
    labels log are data."""
    from rich.table import Table

    e = inert_markup
    con = out_console()
    con.print(f"[bold]{e(d['root'])}[/]  edgevision {e(d['edgevision'])}  "
              f"current: [bold]{e(d['current'] or 'none')}[/]  "
              f"previous: {e(d['previous'] or 'none')}")
    t = Table("", "release", "profile", "source", "delegate", "created", title="installed releases")
    for r in d["releases"]:
        mark = "current" if r["current"] else "previous" if r["previous"] else ""
        t.add_row(mark, e(r["name"]), e(r.get("profile", r.get("error", ""))), e(r.get("source", "")),
                  e(r.get("delegate", "")), e(r.get("created", "")))
    con.print(t)
    s = d["service"]
    if s.get("error"):
        con.print(f"service: [yellow]{e(s['error'])}[/]")
    elif s.get("installed"):
        lag = "" if s.get("release") in (None, d["current"]) else f"  [yellow]runs {e(s['release'])}, not current[/]"
        con.print(f"service ({e(s['manager'])}, {e(s['scope'])}): [bold]{e(s['state'])}[/] pid {e(s['main_pid'])} "
                  f"restarts {e(s['restarts'])} last exit {e(s['last_exit'])}{lag}")
    else:
        con.print("service: not installed")
    lab = d["labels"]
    fps = f"{lab['fps']:.1f} FPS" if lab["fps"] else "FPS n/a"
    age = f", last label {lab['last_age_s']:.1f} s ago" if lab["last_age_s"] is not None else ", no labels yet"
    con.print(f"labels: {e(lab['file'])}  {fps}{age}")
    for ev in lab["recent"]:
        con.print(e(f"  frame {ev.get('frame')}: {ev.get('label')} {_score(ev.get('score'))}  ({ev.get('source')})"))
    _render_watch(con, d, e)
    for note in d.get("notes", []):
        con.print(f"[yellow]note: {e(note)}[/]")


def _score(value: Any) -> str:
    try:
        return f"{float(value):.2f}"
    except (TypeError, ValueError, OverflowError):
        return "?"


def _render_watch(con: Any, d: dict[str, Any], e: Any) -> None:
    """The drift monitor's state and the samples kept (text from files on the device: printed inert)."""
    drift = d.get("drift") or {}
    against = f"baseline {drift['baseline']}" if drift.get("baseline") else str(drift.get("profile_origin") or
                                                                                "the model's profile")
    if drift.get("state"):
        moved = f" ({', '.join(map(str, drift.get('moved') or []))})" if drift.get("moved") else ""
        age = f", as of {drift['age_s']:.0f} s ago" if isinstance(drift.get("age_s"), int | float) else ""
        color = "red" if drift["state"] == "drifting" else "green"
        con.print(f"drift: [{color}]{e(str(drift['state']))}[/]{e(moved)} against {e(against)}{age}", highlight=False)
    else:
        con.print(e("drift: no verdict yet (needs a profile: the model's, or `edgevision device baseline`)"
                    + (f"; baseline {drift['baseline']}" if drift.get("baseline") else "")), highlight=False)
    sm = d.get("samples") or {}
    if sm.get("count"):
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(sm["reasons"].items()))
        con.print(e(f"samples: {sm['count']} kept ({sm['mb']} MB: {reasons}); pull them with `edgevision device "
                    "samples pull HOST --out DIR` on the desktop"), highlight=False)
