"""``edgevision deploy BUNDLE|MODEL [user@]host``: one verified, reversible step over plain SSH."""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path
from typing import Any

from edgevision.cli.arguments import Commands, argument, option
from edgevision.cli.common import err_console, handle_errors, print_json

EPILOG = """Examples:

  edgevision deploy shapes_int8_rpi5.tar.gz pi@raspberrypi.local --service

  edgevision deploy runs/shapes/export/shapes_int8.tflite pi@cam1 --profile rpi5 --install --service

  edgevision deploy model_edgetpu.tflite ssh://mendel@coral:2222 --profile coral-devboard --dry-run

The device needs only OpenSSH with key login (ssh-copy-id) and python3. Host keys are always checked:
connect once with plain `ssh` to accept a new device's key after comparing its fingerprint.
On the device afterwards: `edgevision device status`, `edgevision device rollback`.
"""


def register(commands: Commands) -> None:
    p = commands.add("deploy", deploy, epilog=EPILOG)
    argument(p, "bundle", help="A bundle (.tar.gz or directory) or a .tflite model.")
    argument(p, "host", kind=str, help="[user@]host or ssh://[user@]host[:port].")
    option(p, "--profile", help="Device profile (default: the bundle's, or detected from the device's board).")
    option(p, "--port", kind=int, min=1, max=65535, help="SSH port.")
    option(p, "--identity", "-i", kind=Path, help="SSH private key.")
    option(p, "--known-hosts", kind=Path, help="known_hosts file to check the host key against (default: ssh's).")
    option(p, "--ssh-config", "-F", kind=Path, help="ssh_config file.")
    option(p, "--ssh-option", "-o", many=True, metavar="KEY=VALUE", help="Extra ssh -o KEY=VALUE.")
    option(p, "--root", default="~/edgevision", help="Device root directory (releases, links, labels).")
    option(p, "--remote-python", help="Interpreter on the device that has edgevision[device] (default: "
                                      "ROOT/venv/bin/python, else python3).")
    option(p, "--install", kind=bool, default=False, help="Install/upgrade edgevision[device] in ROOT/venv (system "
                                                          "site packages, for picamera2).")
    option(p, "--install-from", help="pip requirement or local wheel to install instead of edgevision[device] "
                                     "(implies --install).")
    option(p, "--service", kind=bool, default=False, help="Install and restart the service; wait for its first "
                                                          "label; roll back if it fails.")
    option(p, "--manager", default="auto", help="auto | systemd | supervisor (where systemd is not init).")
    option(p, "--wait", kind=float, default=60.0, min=1, help="Seconds to wait for the first label.")
    option(p, "--keep", kind=int, default=3, min=0, help="Older releases kept on the device.")
    option(p, "--dry-run", kind=bool, default=False, help="Run the read-only pre-flight, print every other step.")
    option(p, "--no-multiplex", kind=bool, default=False, help="One SSH connection per step.")
    option(p, "--json", kind=bool, default=False, dest="json_out", help="Print a JSON report.")
    option(p, "--source", "-s", help="(MODEL) frame source on the device.")
    option(p, "--sink", many=True, metavar="KIND[=VALUE]", help="(MODEL) extra sink KIND[=VALUE].")
    option(p, "--threads", kind=int, min=0, help="(MODEL) interpreter threads.")
    option(p, "--delegate", help="(MODEL) cpu or edgetpu[:usb|:pci].")
    option(p, "--top-k", kind=int, min=1, help="(MODEL) classes per event.")
    option(p, "--loop", kind=bool, default=False, help="(MODEL) loop a folder source forever.")
    option(p, "--labels", kind=Path, help="(MODEL) labels file.")


@handle_errors
def deploy(*, bundle: Path, host: str, profile: str | None, port: int | None, identity: Path | None,
           known_hosts: Path | None, ssh_config: Path | None, ssh_option: list[str] | None, root: str,
           remote_python: str | None, install: bool, install_from: str | None, service: bool, manager: str,
           wait: float, keep: int, dry_run: bool, no_multiplex: bool, json_out: bool, source: str | None,
           sink: list[str] | None, threads: int | None, delegate: str | None, top_k: int | None, loop: bool,
           labels: Path | None) -> None:
    """Ship a model to a Raspberry Pi or Coral over SSH: check, copy, verify, switch, (re)start, roll back."""
    from edgevision.console import inert, inert_markup
    from edgevision.deploy.bundle import BundleOptions, make_bundle, read_manifest
    from edgevision.deploy.deployer import (
        DeployOptions,
        deploy_bundle,
        detect_profile,
        print_checks,
        probe,
        probe_argv,
    )
    from edgevision.deploy.ssh import Ssh, SshOptions, SshTarget, new_nonce
    from edgevision.errors import BadInput
    from edgevision.profiles import load_profile
    from edgevision.releases.runtime_config import Sink
    from edgevision.runtime.backends import BACKENDS

    # a model (a .tflite, or a model file a backend claims: a sensor's network archive) rather than a bundle
    is_model = bundle.suffix == ".tflite" or any(e.claims_model(bundle) for e in BACKENDS if e.model_files)
    model_opts = {"--source": source, "--sink": sink, "--threads": threads, "--delegate": delegate,
                  "--top-k": top_k, "--loop": loop or None, "--labels": labels}
    if not is_model and any(v for v in model_opts.values()):
        given = ", ".join(k for k, v in model_opts.items() if v)
        raise BadInput(f"{given}: only for deploying a .tflite model; a bundle carries its own runtime config "
                       "(make a new one with `edgevision bundle`)")
    if not bundle.exists():
        raise BadInput(f"{bundle}: not found")
    manifest = None if is_model else read_manifest(bundle)
    if manifest and profile and load_profile(profile).name != manifest.profile.get("name"):
        raise BadInput(f"--profile {profile}: the bundle was made for {manifest.profile.get('name')}")
    opts = DeployOptions(root=root, remote_python=remote_python, install=install or bool(install_from),
                         install_from=install_from, service=service, manager=manager, wait_s=wait, keep=keep,
                         dry_run=dry_run)
    ssh = Ssh(SshTarget.parse(host, port), SshOptions(identity=identity, known_hosts=known_hosts,
                                                      config=ssh_config, options=tuple(ssh_option or ()),
                                                      multiplex=not no_multiplex))
    con = err_console()
    counter = iter(range(1, 1000))

    def say(title: str, argv: list[str] | None, dry: bool) -> None:  # titles name files; argv quotes paths
        n = next(counter)
        if dry:
            print(f"[{n}] {inert(title)}" + (f"\n    $ {inert(shlex.join(argv))}" if argv else ""), flush=True)
        else:
            con.print(f"[{n}] {inert(title)}", markup=False, highlight=False)

    def show_checks(checks: list[Any]) -> None:  # the details quote the device (board, OS, paths): inert
        for line in print_checks(checks):
            if dry_run:
                print(f"    {inert(line)}")
            else:
                con.print(f"    {inert(line)}", markup=False, highlight=False)

    try:
        _connect(ssh)  # outside any spinner: on a terminal, ssh may ask about an unknown host key
        nonce = new_nonce()
        say("pre-flight (read-only: runs in a dry run too; the script goes on stdin)",
            ssh.ssh_argv(probe_argv(root, opts.remote_python, opts.install, nonce)), dry_run)
        with con.status(f"pre-flight on {inert_markup(ssh.target)}"):
            facts = probe(ssh, root, opts.remote_python, opts.install, nonce)
        with tempfile.TemporaryDirectory(prefix="ev-bundle-") as tmp:
            path = bundle
            if is_model:
                prof = load_profile(profile) if profile else detect_profile(facts)
                path = Path(tmp) / f"{bundle.stem}_{prof.name}.tar.gz"
                manifest = make_bundle(bundle, prof, BundleOptions(
                    source=source, sinks=tuple(Sink.parse(s) for s in sink or []), threads=threads,
                    delegate=delegate, top_k=top_k or 3, loop=loop, labels=labels), path)
                say(f"bundle {bundle.name} for {prof.name} (id {manifest.id})", None, dry_run)
            assert manifest is not None
            report = deploy_bundle(ssh, facts, path, manifest, opts, say, show_checks,
                                   busy=lambda title: con.status(inert_markup(title)))
    finally:
        ssh.close()
    if json_out:
        print_json(report)
    elif dry_run:
        print("dry run: nothing was copied or changed on the device")
    else:
        label = report.get("first_label")  # the device's answer: every value of it is data
        score = label.get("score") if isinstance(label, dict) else None
        con.print("[green]deployed[/] " + inert_markup(
            f"{report['release']} to {ssh.target} (previous: {report.get('previous')})"
            + (f"; first label {label.get('label')!r}" if isinstance(label, dict) else "")
            + (f" {score:.2f}" if isinstance(score, int | float) else "")))


def _connect(ssh: Any) -> None:
    """Open the master connection; on a terminal, an unknown host key is shown to the user by ssh itself."""
    from edgevision.errors import CheckFailed

    try:
        ssh.open()
    except CheckFailed as exc:
        if "host key unknown" not in str(exc) or not ssh.first_contact():
            raise
        ssh.open()
