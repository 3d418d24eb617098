"""A user-level stand-in for systemd, for devices (and CI containers) where systemd is not PID 1.

It reads the same rendered unit file systemd would and runs it the way systemd does: a clean
environment plus ``Environment=``, ``WorkingDirectory=``, each ``ExecStartPre=`` then
``ExecStart=``, stdout to /dev/null and stderr appended to ``service/service.log``, restart after
``RestartSec=`` per ``Restart=``, SIGTERM then SIGKILL after ``TimeoutStopSec=`` on stop. It keeps
its pid in ``service/supervisor.pid`` and its state (main pid, starts, exit codes) in
``service/state.json``. It does not sandbox (``User=``, ``ProtectSystem=`` … are systemd's job) and
does not start at boot: on such a device, start ``edgevision device service restart`` from the
init system you have (cron ``@reboot``, /etc/rc.local, a container's entrypoint).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgevision.errors import BadInput
from edgevision.plainfile import open_append, write_file
from edgevision.releases.unit import environment, parse_unit, split_command, values

SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PID_FILE, STATE_FILE, LOG_FILE = "supervisor.pid", "state.json", "service.log"


@dataclass(frozen=True)
class ServiceSpec:
    exec_start: tuple[str, ...]
    exec_start_pre: tuple[tuple[str, ...], ...]
    environment: dict[str, str]
    working_directory: Path | None
    restart: str
    restart_sec: float
    timeout_stop_sec: float
    nice: int

    @classmethod
    def from_unit(cls, path: Path) -> ServiceSpec:
        origin = str(path)
        sections = parse_unit(path.read_text(encoding="utf-8"), origin)

        def one(key: str, default: str) -> str:
            found = values(sections, "Service", key)
            return found[-1] if found else default

        starts = values(sections, "Service", "ExecStart")
        if len(starts) != 1:
            raise BadInput(f"{origin}: expected exactly one ExecStart=, found {len(starts)}")
        if one("Type", "simple") != "simple":
            raise BadInput(f"{origin}: Type={one('Type', 'simple')} is not supported by the supervisor (simple)")
        unknown = sorted(set(sections) - {"Unit", "Service", "Install"})
        if unknown:
            raise BadInput(f"{origin}: unknown section(s) {', '.join(unknown)}")
        restart = one("Restart", "no")
        if restart not in ("no", "on-failure", "always"):
            raise BadInput(f"{origin}: Restart={restart} is not supported by the supervisor (no|on-failure|always)")
        wd = one("WorkingDirectory", "")
        try:
            return cls(exec_start=tuple(split_command(starts[0], origin)),
                       exec_start_pre=tuple(tuple(split_command(v, origin))
                                            for v in values(sections, "Service", "ExecStartPre")),
                       environment=environment(sections, origin),
                       working_directory=Path(wd.replace("%%", "%")) if wd else None, restart=restart,
                       restart_sec=float(one("RestartSec", "0.1").rstrip("s")),
                       timeout_stop_sec=float(one("TimeoutStopSec", "90").rstrip("s")), nice=int(one("Nice", "0")))
        except ValueError as exc:
            raise BadInput(f"{origin}: {exc}") from None

    def child_env(self) -> dict[str, str]:
        """What systemd gives a service: a fixed PATH, the user's identity, then Environment=."""
        env = {"PATH": SYSTEMD_PATH}
        for key in ("HOME", "USER", "LOGNAME", "LANG", "TZ"):
            if key in os.environ:
                env[key] = os.environ[key]
        env.update(self.environment)
        return env


def write_state(state_dir: Path, state: dict[str, Any]) -> None:
    write_file(state_dir / STATE_FILE, json.dumps(state, sort_keys=True) + "\n")


def read_state(state_dir: Path) -> dict[str, Any]:
    """The supervisor's state (empty before it first ran), read against its schema: a damaged file is one
    error naming the file and the field."""
    import msgspec

    from edgevision.documents import read_json
    from edgevision.releases.release_schemas import StateDoc

    path = state_dir / STATE_FILE
    if not os.path.lexists(path):
        return {}
    return msgspec.to_builtins(read_json(path, StateDoc, "supervisor state file", max_bytes=1 << 20))


def supervise(unit: Path, state_dir: Path) -> int:
    """Run the unit until SIGTERM/SIGINT; returns the exit status for the supervisor process."""
    spec = ServiceSpec.from_unit(unit)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    state: dict[str, Any] = {"supervisor_pid": os.getpid(), "unit": str(unit), "state": "starting",
                             "main_pid": None, "starts": 0, "exits": [], "started_at": time.time()}
    write_state(state_dir, state)  # before the pid file: whoever sees the pid must not read a stale state
    write_file(state_dir / PID_FILE, f"{os.getpid()}\n")
    with open_append(state_dir / LOG_FILE) as log:
        try:
            while not stop.is_set():
                code = _run_once(spec, state, state_dir, log, stop)
                state["exits"] = [*state["exits"], {"code": code, "t": round(time.time(), 3)}][-20:]
                state["main_pid"] = None
                failed = code != 0
                if stop.is_set() or spec.restart == "no" or (spec.restart == "on-failure" and not failed):
                    break
                state["state"] = "auto-restart"
                write_state(state_dir, state)
                stop.wait(spec.restart_sec)
        finally:
            state["state"], state["main_pid"] = "stopped", None
            write_state(state_dir, state)
            (state_dir / PID_FILE).unlink(missing_ok=True)
    return 0


def _run_once(spec: ServiceSpec, state: dict[str, Any], state_dir: Path, log: Any, stop: threading.Event) -> int:
    env, cwd = spec.child_env(), spec.working_directory
    for pre in spec.exec_start_pre:
        code = _wait(_spawn(pre, env, cwd, log, spec.nice), spec, stop)
        if code != 0:
            log.write(f"supervisor: ExecStartPre {pre[0]} exited with {code}\n".encode())
            return code
    state["starts"] += 1
    try:
        child = _spawn(spec.exec_start, env, cwd, log, spec.nice)
    except OSError as exc:
        log.write(f"supervisor: cannot start {spec.exec_start[0]}: {exc.strerror}\n".encode())
        return 203  # systemd's EXIT_EXEC
    state["state"], state["main_pid"] = "running", child.pid
    write_state(state_dir, state)
    return _wait(child, spec, stop)


def _spawn(argv: tuple[str, ...], env: dict[str, str], cwd: Path | None, log: Any, nice: int) -> subprocess.Popen:
    return subprocess.Popen(list(argv), env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=log, close_fds=True, preexec_fn=(lambda: os.nice(nice)) if nice else None)


def _wait(child: subprocess.Popen, spec: ServiceSpec, stop: threading.Event) -> int:
    while True:
        try:
            return child.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            if stop.is_set():
                break
    child.send_signal(signal.SIGTERM)
    try:
        return child.wait(timeout=spec.timeout_stop_sec)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.wait()
