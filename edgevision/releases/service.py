"""Run the rendered unit: systemd where it is PID 1, else edgevision's user-level supervisor.

Both managers answer the same questions (is it running, has it failed since the restart, what did
it last say), so activation and rollback do not care which one a device has. The systemd adapter is
a thin wrapper over ``systemctl``/``journalctl``; on a machine without systemd as init (a container,
this project's CI) the supervisor runs the very same unit file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgevision.errors import BadInput, CheckFailed
from edgevision.plainfile import make_dir, open_append, read_regular, write_file
from edgevision.releases.store import DeviceStore
from edgevision.releases.supervisor import LOG_FILE, PID_FILE, read_state
from edgevision.releases.unit import UNIT_NAME

MANAGER_FILE = "manager.json"
MANAGERS = ("auto", "systemd", "supervisor")


@dataclass(frozen=True)
class ServiceConfig:
    """How the service was installed on this device, remembered for rollback and status.

    ``python`` is the interpreter in ExecStart and the one that starts the supervisor. It is never read back
    from ``manager.json`` (a writable file must not choose what is executed): it is the interpreter running
    this command (the device venv's, where edgevision[device] is), or the one ``--python`` names."""

    manager: str   # systemd | supervisor
    scope: str     # system | user
    python: str = field(default_factory=lambda: sys.executable)

    def save(self, store: DeviceStore) -> None:
        write_file(store.service_dir / MANAGER_FILE, json.dumps({"manager": self.manager, "scope": self.scope}) + "\n")

    @staticmethod
    def load(store: DeviceStore) -> ServiceConfig | None:
        """The manager and scope the service was installed with, or None when it never was."""
        from edgevision.documents import read_json
        from edgevision.releases.release_schemas import ManagerDoc

        path = store.service_dir / MANAGER_FILE
        if not os.path.lexists(path):
            return None
        doc = read_json(path, ManagerDoc, "service manager file", max_bytes=64 * 1024)
        return ServiceConfig(doc.manager, doc.scope)


def systemd_running() -> bool:
    """sd_booted(): systemd is the init system (not merely installed)."""
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def resolve_config(requested: str, python: str | None, previous: ServiceConfig | None) -> ServiceConfig:
    if requested not in MANAGERS:
        raise BadInput(f"--manager {requested!r}: expected one of {', '.join(MANAGERS)}")
    if requested == "auto":
        requested = previous.manager if previous else ("systemd" if systemd_running() else "supervisor")
    if requested == "systemd" and not systemd_running():
        raise CheckFailed("systemd is not running on this device (no /run/systemd/system); use --manager supervisor")
    scope = "system" if os.geteuid() == 0 else "user"
    return ServiceConfig(requested, scope, python or sys.executable)


@dataclass(frozen=True)
class ServiceState:
    manager: str
    installed: bool
    state: str            # running | auto-restart | stopped | failed | activating | not installed
    main_pid: int | None
    restarts: int
    last_exit: int | None
    unit: str | None

    @property
    def running(self) -> bool:
        return self.state == "running" and self.main_pid is not None


def manager_for(store: DeviceStore, config: ServiceConfig) -> Supervisor | Systemd:
    return Systemd(store, config.scope) if config.manager == "systemd" else Supervisor(store, config.python)


def _pid_alive(pid: int, needle: bytes) -> bool:
    """Alive, not a zombie, and still the process we started (pids get reused)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z" and needle in cmdline


def _last_error(lines: list[str]) -> str:
    errors = [ln for ln in lines if ln.startswith("error:")]
    meaningful = errors or [ln for ln in lines if ln.strip() and not ln.startswith("supervisor:")] or lines
    return meaningful[-1].strip() if meaningful else "no output"


class Supervisor:
    name = "supervisor"

    def __init__(self, store: DeviceStore, python: str) -> None:
        self.store, self.python = store, python
        self.unit_path = store.service_dir / UNIT_NAME

    def install(self, text: str) -> Path:
        write_file(self.unit_path, text)
        return self.unit_path

    def _pid(self) -> int | None:
        try:
            pid = int(read_regular(self.store.service_dir / PID_FILE, "pid file", 64).strip())
        except (OSError, ValueError, BadInput):
            return None
        return pid if _pid_alive(pid, b"supervise") else None

    def start(self) -> None:
        """Start the supervisor (after :meth:`stop`)."""
        if not self.unit_path.is_file():
            raise CheckFailed(f"{self.unit_path}: no unit installed")
        log = open_append(self.store.service_dir / LOG_FILE)
        try:
            subprocess.Popen([self.python, "-m", "edgevision", "device", "supervise", "--root", str(self.store.root)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, close_fds=True,
                             start_new_session=True, cwd=self.store.root)
        finally:
            log.close()
        deadline = time.monotonic() + 15
        while self._pid() is None:
            if time.monotonic() > deadline:
                raise CheckFailed(f"the supervisor did not start: {_last_error(self.logs(5))}")
            time.sleep(0.05)

    def stop(self) -> None:
        pid = self._pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while _pid_alive(pid, b"supervise") and time.monotonic() < deadline:
                time.sleep(0.05)
            if _pid_alive(pid, b"supervise"):
                os.killpg(pid, signal.SIGKILL)
        try:
            main = read_state(self.store.service_dir).get("main_pid")
        except BadInput:  # a damaged state file must not keep the service from stopping
            main = None
        if isinstance(main, int) and _pid_alive(main, b"edgevision"):  # orphaned by a killed supervisor
            os.kill(main, signal.SIGKILL)

    def state(self) -> ServiceState:
        s = read_state(self.store.service_dir)
        exits = s.get("exits") or []
        alive = self._pid() is not None
        return ServiceState(self.name, self.unit_path.is_file(), str(s.get("state", "stopped")) if alive else "stopped",
                            s.get("main_pid") if alive else None, max(0, int(s.get("starts", 0)) - 1),
                            exits[-1]["code"] if exits else None, str(self.unit_path))

    def failure(self) -> str | None:
        s = read_state(self.store.service_dir)
        if s.get("exits"):
            return f"the service exited with status {s['exits'][-1]['code']}: {_last_error(self.logs(20))}"
        if self._pid() is None:
            return f"the supervisor stopped: {_last_error(self.logs(20))}"
        return None

    def logs(self, n: int) -> list[str]:
        try:
            with open(self.store.service_dir / LOG_FILE, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 64 * 1024))
                return fh.read().decode("utf-8", errors="replace").splitlines()[-n:]
        except FileNotFoundError:
            return []


LINGER_DIR = Path("/var/lib/systemd/linger")  # logind's record of users whose manager runs without a session


def _linger_enabled(user: str) -> bool:
    return (LINGER_DIR / user).exists()


def _enable_linger() -> None:
    """Keep the user's systemd (and so the service) running without a login session, and start it at boot.

    Without linger, the user manager stops seconds after the last SSH session ends, taking the service
    with it. logind lets a user enable it for themself only through polkit, which a minimal Raspberry Pi
    OS or Debian lacks, so passwordless sudo (the Pi's default user has it) is the fallback."""
    import getpass

    user = getpass.getuser()
    if _linger_enabled(user):
        return
    proc = subprocess.run(["loginctl", "enable-linger", user], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0 and shutil.which("sudo"):
        proc = subprocess.run(["sudo", "-n", "loginctl", "enable-linger", user], capture_output=True, text=True,
                              timeout=30)
    if not _linger_enabled(user):
        raise CheckFailed(f"cannot enable linger for {user} ({(proc.stderr or proc.stdout).strip() or 'no reason'}): "
                          f"the service would stop at logout; run `sudo loginctl enable-linger {user}` and deploy "
                          "again")


class Systemd:
    """Thin adapter over systemctl (no systemd as PID 1 here: exercised through the supervisor instead)."""

    name = "systemd"

    def __init__(self, store: DeviceStore, scope: str) -> None:
        self.store, self.scope = store, scope
        base = Path("/etc/systemd/system") if scope == "system" else Path.home() / ".config" / "systemd" / "user"
        self.unit_path = base / UNIT_NAME

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["systemctl", *(["--user"] if self.scope == "user" else []), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise CheckFailed(f"{' '.join(cmd)}: {(proc.stderr.strip() or proc.stdout.strip() or 'failed')}")
        return proc

    def install(self, text: str) -> Path:
        write_file(self.store.service_dir / UNIT_NAME, text)
        make_dir(self.unit_path.parent)
        write_file(self.unit_path, text)
        self._ctl("daemon-reload")
        self._ctl("enable", UNIT_NAME)
        if self.scope == "user":
            _enable_linger()
        return self.unit_path

    def start(self) -> None:
        self._ctl("start", UNIT_NAME)

    def stop(self) -> None:
        self._ctl("stop", UNIT_NAME, check=False)

    def _show(self) -> dict[str, Any]:
        out = self._ctl("show", UNIT_NAME, "-p", "LoadState,ActiveState,SubState,MainPID,NRestarts,ExecMainStatus",
                        check=False).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def state(self) -> ServiceState:
        p = self._show()
        active, sub = p.get("ActiveState", "inactive"), p.get("SubState", "dead")
        state = "running" if sub == "running" else sub if sub == "auto-restart" else active
        pid = int(p.get("MainPID", "0") or 0)
        return ServiceState(self.name, p.get("LoadState") == "loaded", state, pid or None,
                            int(p.get("NRestarts", "0") or 0), int(p.get("ExecMainStatus", "0") or 0),
                            str(self.unit_path))

    def failure(self) -> str | None:
        p = self._show()
        if p.get("ActiveState") == "failed" or p.get("SubState") == "auto-restart" or int(p.get("NRestarts", 0) or 0):
            return f"the service exited with status {p.get('ExecMainStatus')}: {_last_error(self.logs(20))}"
        return None

    def logs(self, n: int) -> list[str]:
        cmd = ["journalctl", *(["--user"] if self.scope == "user" else []), "-u", UNIT_NAME, "-n", str(n),
               "-o", "cat", "--no-pager"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        return proc.stdout.splitlines()
