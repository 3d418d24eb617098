"""``edgevision deploy BUNDLE|MODEL [user@]host``: one verified, reversible step over plain SSH."""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path
from typing import Any

import typer

from edgevision.cli.common import err_console, handle_errors, print_json

EPILOG = """Examples:

  edgevision deploy shapes_int8_rpi5.tar.gz pi@raspberrypi.local --service

  edgevision deploy runs/shapes/export/shapes_int8.tflite pi@cam1 --profile rpi5 --install --service

  edgevision deploy model_edgetpu.tflite ssh://mendel@coral:2222 --profile coral-devboard --dry-run

The device needs only OpenSSH with key login (ssh-copy-id) and python3. Host keys are always checked:
connect once with plain `ssh` to accept a new device's key after comparing its fingerprint.
On the device afterwards: `edgevision device status`, `edgevision device rollback`.
"""


def register(app: typer.Typer) -> None:
    @app.command(epilog=EPILOG)
    @handle_errors
    def deploy(
        bundle: Path = typer.Argument(..., help="A bundle (.tar.gz or directory) or a .tflite model."),
        host: str = typer.Argument(..., help="[user@]host or ssh://[user@]host[:port]."),
        profile: str | None = typer.Option(None, "--profile", help="Device profile (default: the bundle's, or "
                                                                   "detected from the device's board)."),
        port: int | None = typer.Option(None, "--port", min=1, max=65535, help="SSH port."),
        identity: Path | None = typer.Option(None, "--identity", "-i", help="SSH private key."),
        known_hosts: Path | None = typer.Option(None, "--known-hosts", help="known_hosts file to check the host "
                                                                            "key against (default: ssh's)."),
        ssh_config: Path | None = typer.Option(None, "--ssh-config", "-F", help="ssh_config file."),
        ssh_option: list[str] | None = typer.Option(None, "--ssh-option", "-o", help="Extra ssh -o KEY=VALUE."),
        root: str = typer.Option("~/edgevision", "--root", help="Device root directory (releases, links, labels)."),
        remote_python: str | None = typer.Option(None, "--remote-python", help="Interpreter on the device that has "
                                                 "edgevision[device] (default: ROOT/venv/bin/python, else python3)."),
        install: bool = typer.Option(False, "--install", help="Install/upgrade edgevision[device] in ROOT/venv "
                                                              "(system site packages, for picamera2)."),
        install_from: str | None = typer.Option(None, "--install-from", help="pip requirement or local wheel to "
                                                "install instead of edgevision[device] (implies --install)."),
        service: bool = typer.Option(False, "--service", help="Install and restart the service; wait for its first "
                                                              "label; roll back if it fails."),
        manager: str = typer.Option("auto", "--manager", help="auto | systemd | supervisor (where systemd is not "
                                                              "init)."),
        wait: float = typer.Option(60.0, "--wait", min=1, help="Seconds to wait for the first label."),
        keep: int = typer.Option(3, "--keep", min=0, help="Older releases kept on the device."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Run the read-only pre-flight, print every other step."),
        no_multiplex: bool = typer.Option(False, "--no-multiplex", help="One SSH connection per step."),
        json_out: bool = typer.Option(False, "--json", help="Print a JSON report."),
        source: str | None = typer.Option(None, "--source", "-s", help="(MODEL) frame source on the device."),
        sink: list[str] | None = typer.Option(None, "--sink", help="(MODEL) extra sink KIND[=VALUE]."),
        threads: int | None = typer.Option(None, "--threads", min=0, help="(MODEL) interpreter threads."),
        delegate: str | None = typer.Option(None, "--delegate", help="(MODEL) cpu or edgetpu[:usb|:pci]."),
        top_k: int | None = typer.Option(None, "--top-k", min=1, help="(MODEL) classes per event."),
        loop: bool = typer.Option(False, "--loop", help="(MODEL) loop a folder source forever."),
        labels: Path | None = typer.Option(None, "--labels", help="(MODEL) labels file."),
    ) -> None:
        """Ship a model to a Raspberry Pi or Coral over SSH: check, copy, verify, switch, (re)start, roll back."""
        from edgevision.deploy.bundle import BundleOptions, make_bundle, read_manifest
        from edgevision.deploy.deployer import (
            DeployOptions,
            deploy_bundle,
            detect_profile,
            print_checks,
            probe,
            probe_argv,
        )
        from edgevision.deploy.ssh import Ssh, SshOptions, SshTarget
        from edgevision.errors import BadInput
        from edgevision.profiles import load_profile
        from edgevision.releases.runtime_config import Sink

        is_model = bundle.suffix in (".tflite", ".zip")  # .zip: an IMX500 packerOut.zip (--profile rpi-ai-camera)
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

        def say(title: str, argv: list[str] | None, dry: bool) -> None:
            n = next(counter)
            if dry:
                print(f"[{n}] {title}" + (f"\n    $ {shlex.join(argv)}" if argv else ""), flush=True)
            else:
                con.print(f"[{n}] {title}")

        def show_checks(checks: list[Any]) -> None:
            for line in print_checks(checks):
                (print if dry_run else con.print)(f"    {line}")

        try:
            _connect(ssh)  # outside any spinner: on a terminal, ssh may ask about an unknown host key
            say("pre-flight (read-only: runs in a dry run too; the script goes on stdin)",
                ssh.ssh_argv(probe_argv(root, opts.remote_python, opts.install)), dry_run)
            with con.status(f"pre-flight on {ssh.target}"):
                facts = probe(ssh, root, opts.remote_python, opts.install)
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
                                       busy=lambda title: con.status(title))
        finally:
            ssh.close()
        if json_out:
            print_json(report)
        elif dry_run:
            print("dry run: nothing was copied or changed on the device")
        else:
            label = report.get("first_label")
            con.print(f"[green]deployed[/] {report['release']} to {ssh.target} (previous: {report.get('previous')})"
                      + (f"; first label {label.get('label')!r} {float(label.get('score', 0)):.2f}" if label else ""))


def _connect(ssh: Any) -> None:
    """Open the master connection; on a terminal, an unknown host key is shown to the user by ssh itself."""
    from edgevision.errors import CheckFailed

    try:
        ssh.open()
    except CheckFailed as exc:
        if "host key unknown" not in str(exc) or not ssh.first_contact():
            raise
        ssh.open()
