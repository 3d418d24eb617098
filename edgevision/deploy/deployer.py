"""The desktop side of deploy: pre-flight, copy, then let the device verify, switch and prove it runs.

Every step that changes the device is an ``edgevision device …`` command run there over SSH, so the
device's own code decides whether a bundle is sound (deploy never trusts its local copy) and the
rollback on failure happens on the device even if the connection drops. ``--dry-run`` runs only the
read-only pre-flight and prints every other step's exact command.
"""

from __future__ import annotations

import shlex
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgevision.assets import asset_dirs
from edgevision.deploy.localwheel import build_wheel, checkout_root, index_spec
from edgevision.deploy.preflight import Check, evaluate, failures
from edgevision.deploy.ssh import Ssh, frame, new_nonce, read_frame
from edgevision.errors import BadInput, CheckFailed
from edgevision.profiles import Profile, list_profiles, load_profile
from edgevision.releases.archive import pack
from edgevision.releases.manifest import Manifest
from edgevision.releases.store import DEFAULT_ROOT
from edgevision.version import __version__

KIT_FILES = ("edgevision.service.in", "install.sh")


@dataclass(frozen=True)
class DeployOptions:
    root: str = DEFAULT_ROOT
    remote_python: str | None = None
    install: bool = False
    install_from: str | None = None   # a pip requirement, or a local wheel/sdist file to copy and install
    service: bool = False
    manager: str = "auto"
    wait_s: float = 60.0
    keep: int = 3
    dry_run: bool = False


@dataclass
class Steps:
    """Runs (or, in a dry run, only prints) numbered steps; keeps what each did for the report."""

    dry_run: bool
    say: Callable[[str, list[str] | None, bool], None]
    busy: Callable[[str], AbstractContextManager[Any]] = lambda title: nullcontext()
    done: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, title: str, argv: list[str] | None, action: Callable[[], Any] | None = None) -> Any:
        self.say(title, argv, self.dry_run)
        self.done.append({"step": title, "command": shlex.join(argv) if argv else None})
        if self.dry_run or action is None:
            return None
        with self.busy(title):
            return action()


def kit_dir() -> Path:
    for d in asset_dirs("device", "kit"):
        if all((d / f).is_file() for f in KIT_FILES):
            return d
    raise BadInput("the deployment kit (device/kit/edgevision.service.in, install.sh) was not found; "
                   "reinstall edgevision or run from an edgevision checkout")


def probe_source() -> bytes:
    return (Path(__file__).with_name("probe.py")).read_bytes()


def probe_argv(root: str, remote_python: str | None, install: bool, nonce: str = "") -> list[str]:
    """The probe runs with the system python3 unless told which interpreter has edgevision; with ``nonce``
    its answer is framed."""
    from edgevision.runtime.backends import BACKENDS

    python = remote_python if remote_python and not install else "python3"
    needs = [arg for e in BACKENDS for t in e.device_tools for arg in ("--tool", t)]
    needs += [arg for e in BACKENDS for f in e.device_files for arg in ("--file", f)]
    return [python, "-", "--root", root, "--python", "" if install else (remote_python or ""), *needs,
            *(("--frame", nonce) if nonce else ())]


def probe(ssh: Ssh, root: str, remote_python: str | None, install: bool, nonce: str) -> dict[str, Any]:
    """Read-only facts from the device (its answer framed by ``nonce``: see :func:`probe_argv`)."""
    out = ssh.run(probe_argv(root, remote_python, install, nonce), input=probe_source(), timeout=120)
    try:
        facts = read_frame(out, nonce)
    except ValueError as exc:
        raise CheckFailed(f"{ssh.target}: the pre-flight probe {exc}") from None
    if not isinstance(facts, dict) or facts.get("probe") != 1:
        raise CheckFailed(f"{ssh.target}: unexpected pre-flight result")
    return facts


def detect_profile(facts: dict[str, Any]) -> Profile:
    """The profile whose board matches /proc/device-tree/model, else the one for a plain PC of that arch."""
    board, arch = str(facts.get("board") or ""), str(facts.get("arch") or "")
    profiles = [load_profile(n) for n in list_profiles()]
    hits = [p for p in profiles if p.board and p.board in board and p.arch in ("", arch)]
    hits = hits or [p for p in profiles if not p.board and p.arch == arch and not p.uses_edgetpu]
    if len(hits) != 1:
        raise BadInput(f"cannot tell the device profile (board {board or 'unknown'!r}, {arch}); pass --profile "
                       f"({', '.join(list_profiles())})")
    return hits[0]


def remote_python_for(facts: dict[str, Any], opts: DeployOptions) -> str:
    if opts.install:
        return str(facts["venv_python"])
    return str(opts.remote_python or (facts.get("target") or {}).get("path") or "python3")


def deploy_bundle(ssh: Ssh, facts: dict[str, Any], bundle: Path, manifest: Manifest, opts: DeployOptions,
                  say: Callable[[str, list[str] | None, bool], None],
                  show_checks: Callable[[list[Check]], None],
                  busy: Callable[[str], AbstractContextManager[Any]] = lambda title: nullcontext()) -> dict[str, Any]:
    """Everything after the pre-flight probe; raises CheckFailed with the device's own reason on refusal."""
    archive_bytes = sum(f["size"] for f in manifest.files.values())
    checks = evaluate(facts, manifest, opts.install, archive_bytes)
    show_checks(checks)
    report: dict[str, Any] = {"target": str(ssh.target), "release": manifest.release_name, "id": manifest.id,
                              "profile": manifest.profile.get("name"), "dry_run": opts.dry_run,
                              "checks": [c.__dict__ for c in checks]}
    bad = failures(checks)
    if bad:
        refuse = BadInput if bad[0].missing_package else CheckFailed  # a package to install: bad input, exit 2
        raise refuse(f"{ssh.target}: pre-flight {bad[0].name}: {bad[0].detail}" + (f"; {bad[0].fix}" if bad[0].fix
                                                                                         else ""))
    root = str(facts["root"])
    py = remote_python_for(facts, opts)
    dev = [py, "-m", "edgevision", "device"]
    steps = Steps(opts.dry_run, say, busy)
    kit = kit_dir()
    steps("prepare the device root", ssh.ssh_argv(["mkdir", "-p", f"{root}/kit", f"{root}/incoming"]),
          lambda: ssh.run(["mkdir", "-p", f"{root}/kit", f"{root}/incoming"]))
    for name in KIT_FILES:
        steps(f"copy the deployment kit: {name}", ssh.scp_argv(kit / name, f"{root}/kit/{name}"),
              lambda name=name: ssh.copy(kit / name, f"{root}/kit/{name}"))
    if opts.install:
        with tempfile.TemporaryDirectory(prefix="ev-wheel-") as tmp:
            spec = _install_spec(opts, steps, Path(tmp))
            local = Path(spec.split("[", 1)[0])
            if local.is_file() or (opts.dry_run and local.suffix == ".whl"):
                remote_file = f"{root}/incoming/{local.name}"
                steps(f"copy {local.name}", ssh.scp_argv(local, remote_file), lambda: ssh.copy(local, remote_file))
                spec = remote_file + "[device]"
            cmd = ["sh", f"{root}/kit/install.sh", "--root", root, "--spec", spec]
            steps("install edgevision[device] in a venv (system site packages)", ssh.ssh_argv(cmd),
                  lambda: ssh.run(cmd, timeout=1800))
    with tempfile.TemporaryDirectory(prefix="ev-deploy-") as tmp:
        upload = bundle
        if bundle.is_dir():
            upload = Path(tmp) / f"{manifest.release_name}.tar.gz"
            pack(bundle, upload)  # byte for byte what the directory holds: the device judges it
        remote_archive = f"{root}/incoming/{manifest.release_name}.tar.gz"
        steps("copy the bundle", ssh.scp_argv(upload, remote_archive), lambda: ssh.copy(upload, remote_archive))
    nonce = new_nonce()
    install_cmd = frame([*dev, "install", remote_archive, "--root", root, "--expect-id", manifest.id, "--remove",
                         "--json"], nonce)
    result = steps("verify the manifest on the device and unpack into releases/", ssh.ssh_argv(install_cmd),
                   lambda: _answer(ssh, install_cmd, nonce, "`edgevision device install`"))
    if result:
        report["new"] = result.get("new")
    activate_cmd = [*dev, "activate", manifest.id, "--root", root, "--keep", str(opts.keep), "--json"]
    if opts.service:
        activate_cmd += ["--service", "--manager", opts.manager, "--wait", f"{opts.wait_s:g}"]
    activate_cmd = frame(activate_cmd, nonce)
    title = "switch current atomically" + (", restart the service, wait for its first label (rolls back on failure)"
                                           if opts.service else "")
    result = steps(title, ssh.ssh_argv(activate_cmd),
                   lambda: _answer(ssh, activate_cmd, nonce, "`edgevision device activate`",
                                   timeout=opts.wait_s * 3 + 120))
    if result:
        report.update({k: result.get(k) for k in ("previous", "changed", "first_label", "pruned")})
    report["steps"] = steps.done
    return report


def _answer(ssh: Ssh, framed: list[str], nonce: str, what: str, timeout: float = 600) -> dict[str, Any]:
    """A device command's framed JSON answer, which must be an object."""
    result = ssh.answer(framed, nonce, what, timeout=timeout)
    if not isinstance(result, dict):
        raise CheckFailed(f"{ssh.target}: {what} answered {type(result).__name__}, not an object")
    return result


def _install_spec(opts: DeployOptions, steps: Steps, tmp: Path) -> str:
    """--install-from as given; else a wheel of this source checkout; else this version from the index."""
    if opts.install_from:
        return opts.install_from
    checkout = checkout_root()
    if checkout is None:
        return index_spec()
    built: list[Path] = []
    steps(f"build a wheel of this checkout ({checkout})", None, lambda: built.append(build_wheel(checkout, tmp)))
    return str(built[0] if built else tmp / f"edgevision-{__version__}-py3-none-any.whl")


def print_checks(checks: list[Check]) -> list[str]:
    mark = {True: "ok", False: "FAIL", None: "warn"}
    return [f"{mark[c.ok]:>4}  {c.name:<11} {c.detail}" + (f"  -> {c.fix}" if c.fix and c.ok is not True else "")
            for c in checks]
