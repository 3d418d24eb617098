"""OpenSSH as the transport: the system's ``ssh`` and ``scp``, never a password, host keys always checked.

Every call runs with ``BatchMode=yes`` (no prompt can hang a deploy, no password is ever asked
for or kept) and ``StrictHostKeyChecking=yes`` placed before any user option, so neither an
``-o`` nor ``~/.ssh/config`` can turn host-key checking off. A host seen for the first time is
refused with the way to check its key; on a terminal, ``ssh`` itself may ask once (its own
prompt shows the fingerprint). One master connection (ControlMaster) carries all the steps.

What a device answers is framed: a command whose result deploy reads runs with a fresh nonce in
``$EDGEVISION_ANSWER_FRAME`` and prints its JSON between two lines naming it; deploy reads only what is
between them. A login shell that greets (an ``echo`` in ``.bashrc``) or warns can neither spoil nor forge
an answer, and nothing it prints reaches the terminal raw.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from edgevision.console import ANSWER_FRAME_ENV, answer_frame, inert
from edgevision.errors import BadInput, CheckFailed
from edgevision.limits import hint, limits

PROGRESS_BYTES = 64 * 1024  # a fetched stream makes progress when this much arrived (see Ssh.fetch)
ERROR_TAIL = 64 * 1024  # the end of what it prints on stderr: its error line is the last
FORBIDDEN = re.compile(r"^\s*(StrictHostKeyChecking\s*[= ]\s*(no|off|accept-new)|UserKnownHostsFile\s*[= ]\s*/dev/null"
                       r"|BatchMode|PasswordAuthentication\s*[= ]\s*yes)", re.IGNORECASE)


@dataclass(frozen=True)
class SshTarget:
    host: str
    user: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str, port: int | None = None) -> SshTarget:
        """``host``, ``user@host`` or ``ssh://user@host:port``."""
        if text.startswith("ssh://"):
            u = urlsplit(text)
            if not u.hostname or u.path not in ("", "/"):
                raise BadInput(f"{text}: expected ssh://[user@]host[:port]")
            try:
                url_port = u.port
            except ValueError:  # urllib refuses ports outside 0-65535
                url_port = 0
            if url_port == 0 or (url_port is None and u.netloc.endswith(":")):
                raise BadInput(f"{text}: the port must be a number from 1 to 65535")
            return cls(u.hostname, u.username, port or url_port)
        user, _, host = text.rpartition("@")
        if not host or any(c in host for c in " /\\") or host.startswith("-") or user.startswith("-"):
            raise BadInput(f"{text!r}: expected [user@]host or ssh://[user@]host[:port]")
        return cls(host, user or None, port)

    @property
    def dest(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    def scp_dest(self, path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user + '@' if self.user else ''}{host}:{path}"

    def __str__(self) -> str:
        return self.dest + (f":{self.port}" if self.port else "")


@dataclass(frozen=True)
class SshOptions:
    identity: Path | None = None
    known_hosts: Path | None = None
    config: Path | None = None
    options: tuple[str, ...] = ()
    connect_timeout: int = 15
    multiplex: bool = True

    def __post_init__(self) -> None:
        for opt in self.options:
            if FORBIDDEN.match(opt):
                raise BadInput(f"-o {opt}: refused; host-key checking and key-only batch login stay on")
            if "=" not in opt and " " not in opt.strip():
                raise BadInput(f"-o {opt}: expected KEY=VALUE")


class Ssh:
    """Runs commands on, and copies files to, one target."""

    def __init__(self, target: SshTarget, options: SshOptions) -> None:
        self.target, self.options = target, options
        self._control: Path | None = None

    def common(self, batch: bool = True) -> list[str]:
        o = self.options
        args = ["-o", "BatchMode=yes" if batch else "BatchMode=no",
                "-o", "StrictHostKeyChecking=yes" if batch else "StrictHostKeyChecking=ask",
                "-o", f"ConnectTimeout={o.connect_timeout}", "-o", "ServerAliveInterval=15",
                "-o", "ServerAliveCountMax=4", "-o", "LogLevel=ERROR"]
        if o.config:
            args[:0] = ["-F", str(o.config)]
        if o.known_hosts:
            args += ["-o", f"UserKnownHostsFile={o.known_hosts}"]
        if o.identity:
            args += ["-i", str(o.identity), "-o", "IdentitiesOnly=yes"]
        if self._control:
            args += ["-o", f"ControlPath={self._control / '%C'}"]
        for opt in o.options:
            args += ["-o", opt]
        return args

    def ssh_argv(self, remote: list[str], batch: bool = True) -> list[str]:
        port = ["-p", str(self.target.port)] if self.target.port else []
        return ["ssh", *self.common(batch), *port, "--", self.target.dest, shlex.join(remote)]

    def scp_argv(self, local: Path, remote_path: str) -> list[str]:
        port = ["-P", str(self.target.port)] if self.target.port else []
        return ["scp", "-q", *self.common(), *port, str(local), self.target.scp_dest(remote_path)]

    def open(self) -> None:
        """Start the shared master connection (also the first contact: host key and login are checked here)."""
        for tool in ("ssh", "scp"):
            if shutil.which(tool) is None:
                raise BadInput(f"`{tool}` not found: install the OpenSSH client (apt install openssh-client)")
        if not self.options.multiplex or self._control:
            return
        control = Path(tempfile.mkdtemp(prefix="ev-ssh-"))
        self._control = control
        port = ["-p", str(self.target.port)] if self.target.port else []
        with tempfile.TemporaryFile() as err:
            # Not `-N -f`: a master without a session type refuses the sessions multiplexed onto it.
            proc = subprocess.run(["ssh", *self.common(), "-o", "ControlMaster=yes", "-o", "ControlPersist=120",
                                   *port, "--", self.target.dest, "true"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, timeout=120)
            err.seek(0)
            message = err.read().decode(errors="replace")
        if proc.returncode != 0:
            self._control = None
            shutil.rmtree(control, ignore_errors=True)
            raise self.explain(message)

    def close(self) -> None:
        if self._control:
            port = ["-p", str(self.target.port)] if self.target.port else []
            subprocess.run(["ssh", *self.common(), *port, "-O", "exit", self.target.dest], capture_output=True,
                           timeout=30)
            shutil.rmtree(self._control, ignore_errors=True)
            self._control = None

    def first_contact(self) -> bool:
        """On a terminal, let ssh show the unknown host's fingerprint and ask the user (never auto-accepted)."""
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            return False
        port = ["-p", str(self.target.port)] if self.target.port else []
        argv = ["ssh", *self.common(batch=False), "-o", "PasswordAuthentication=no", *port, self.target.dest, "true"]
        return subprocess.run(argv, timeout=300).returncode == 0

    def run(self, remote: list[str], input: bytes | None = None, timeout: float = 600) -> str:
        """Run a command on the device; its stdout, or CheckFailed/BadInput with the device's own error line."""
        code, stdout, stderr = _bounded_run(self.ssh_argv(remote), input, timeout)
        if code is None:
            raise CheckFailed(f"{self.target}: `{remote[0]} …` did not finish within {timeout:g} s")
        if stdout is None:
            raise CheckFailed(f"{self.target}: `{remote[0]} …` printed more than {limits().answer_bytes >> 20} MB; "
                              "not an answer edgevision gives")
        out, err = stdout.decode(errors="replace"), stderr.decode(errors="replace")
        proc = subprocess.CompletedProcess(remote, code)
        if proc.returncode == 255:
            raise self.explain(err)
        if proc.returncode != 0:
            lines = [ln for ln in err.splitlines() if ln.startswith("error:")] or err.strip().splitlines()[-1:]
            # the device's words: inert before they are shown (they may quote a bundle, a file, a label)
            message = inert(lines[-1].removeprefix("error: "), 500) if lines else f"exit status {proc.returncode}"
            exc = BadInput if proc.returncode == 2 else CheckFailed
            raise exc(f"{self.target}: {message}")
        return out

    def fetch(self, remote: list[str], out: BinaryIO, limit: int, timeout: float = 1800,
              silence: float | None = None, what: str | None = None) -> int:
        """Run a command on the device and write its (binary) stdout to ``out``, at most ``limit`` bytes: a
        device that sends more is cut off with CheckFailed, and so is one that sends less than
        ``PROGRESS_BYTES`` in ``silence`` seconds (default: the ``silence_seconds`` limit: silent, or a trickle
        that would keep one read alive at a time) or is not done after ``timeout``: every wait is bounded.
        ``what`` names the command in errors. Errors as :meth:`run`. Returns the byte count."""
        import select

        quiet_s = float(limits().silence_seconds if silence is None else silence)
        what = what or f"{remote[0]} …"
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(self.ssh_argv(remote), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=err)
            assert proc.stdout is not None
            fd = proc.stdout.fileno()
            total, deadline = 0, time.monotonic() + timeout
            moved, since = time.monotonic(), 0  # when the stream last made progress, and bytes since then
            try:
                while True:
                    now = time.monotonic()
                    if now >= deadline:
                        raise CheckFailed(f"{self.target}: `{what}` did not finish within {timeout:g} s")
                    if now >= moved + quiet_s:  # silent, or a trickle that keeps a stream alive but never ends it
                        raise CheckFailed(f"{self.target}: `{what}` sent {since:,} bytes in {quiet_s:g} s; "
                                          f"given up ({hint('silence_seconds')})")
                    ready, _, _ = select.select([fd], [], [], min(moved + quiet_s, deadline) - now)
                    if not ready:
                        continue
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        break
                    total += len(chunk)
                    since += len(chunk)
                    if since >= PROGRESS_BYTES:
                        moved, since = time.monotonic(), 0
                    if total > limit:
                        raise CheckFailed(f"{self.target}: `{what}` sent more than {limit // (1 << 20)} MB")
                    out.write(chunk)
                code = proc.wait(timeout=max(1.0, min(quiet_s, deadline - time.monotonic())))
            except (CheckFailed, subprocess.TimeoutExpired) as exc:
                proc.kill()
                proc.wait()
                if isinstance(exc, CheckFailed):
                    raise
                raise CheckFailed(f"{self.target}: `{what}` did not finish within {timeout:g} s") from None
            finally:
                proc.stdout.close()
            err.seek(0)
            message = err.read(1 << 16).decode(errors="replace")
        if code == 255:
            raise self.explain(message)
        if code != 0:
            lines = [ln for ln in message.splitlines() if ln.startswith("error:")] or message.strip().splitlines()[-1:]
            # the device's words: inert and short before they are shown (as :meth:`run` shows them)
            text = inert(lines[-1].removeprefix("error: "), 500) if lines else f"exit status {code}"
            raise (BadInput if code == 2 else CheckFailed)(f"{self.target}: {text}")
        return total

    def answer(self, framed: list[str], nonce: str, what: str, input: bytes | None = None,
               timeout: float = 600) -> Any:
        """Run a command made by :func:`frame` and return the JSON it answered between its frame lines
        (``what`` names the command in an error)."""
        out = self.run(framed, input=input, timeout=timeout)
        try:
            return read_frame(out, nonce)
        except ValueError as exc:
            raise CheckFailed(f"{self.target}: {what} {exc}") from None

    def copy(self, local: Path, remote_path: str, timeout: float = 1800) -> None:
        proc = subprocess.run(self.scp_argv(local, remote_path), capture_output=True, timeout=timeout)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace")
            if "Connection closed" in err and "Permission denied" not in err:
                err += "\n(scp needs the SFTP subsystem: `Subsystem sftp` in the device's /etc/ssh/sshd_config)"
            raise self.explain(err, f"copying {local.name}")

    def explain(self, stderr: str, doing: str = "connecting") -> CheckFailed:
        """Turn ssh's failure output into one line that says what to do."""
        t, port = self.target, f" -p {self.target.port}" if self.target.port else ""
        kh = f" (known hosts: {self.options.known_hosts})" if self.options.known_hosts else ""
        if "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr or ("Host key for" in stderr and "has changed" in stderr):
            return CheckFailed(f"{t}: the host key CHANGED since it was recorded{kh}; refusing (possible "
                               "man-in-the-middle). If the device was reinstalled, remove the old key with "
                               f"ssh-keygen -R {t.host} and check the new fingerprint")
        if "Host key verification failed" in stderr or "host key is known" in stderr:
            return CheckFailed(f"{t}: host key unknown{kh}; connect once with `ssh{port} {t.dest}` and compare the "
                               "fingerprint it shows with the device's (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key"
                               ".pub on the device); deploy never trusts a new host key by itself")
        if "Permission denied" in stderr:
            return CheckFailed(f"{t}: key login refused (deploy never asks for or keeps a password); install your "
                               f"key with `ssh-copy-id{port} {t.dest}` or pass --identity KEY")
        last = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
        return CheckFailed(f"{t}: {doing} failed: {inert(last[-1], 500) if last else 'ssh exited with status 255'}")


def _bounded_run(argv: list[str], input: bytes | None, timeout: float) -> tuple[int | None, bytes | None, bytes]:
    """Run ``argv`` with ``input`` on its stdin; (exit status, stdout, the last ``ERROR_TAIL`` bytes of stderr).
    A device's answers are small: stdout past ``answer_bytes`` ends the command (stdout None) instead of
    filling the desktop's memory, and ``timeout`` ends it too (status None)."""
    import selectors
    import threading

    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    if input is not None:
        assert proc.stdin is not None
        stdin = proc.stdin

        def feed() -> None:
            try:
                stdin.write(input)
            except OSError:
                pass  # the command ended without reading all of it: its status says what happened
            finally:
                try:
                    stdin.close()
                except OSError:
                    pass

        threading.Thread(target=feed, name="edgevision-ssh-stdin", daemon=True).start()
    out, err = bytearray(), bytearray()
    cap = limits().answer_bytes
    deadline = time.monotonic() + timeout
    too_much = False
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while sel.get_map() and not too_much:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in sel.select(min(left, 1.0)):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf: bytearray = key.data
                buf += chunk
                if buf is err and len(err) > ERROR_TAIL:
                    del err[:-ERROR_TAIL]
                elif buf is out and len(out) > cap:
                    too_much = True
    try:
        code = proc.wait(timeout=max(0.1, deadline - time.monotonic())) if not too_much else None
    except subprocess.TimeoutExpired:
        code = None
    if code is None:
        proc.kill()
        proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    if too_much:
        return -1, None, bytes(err)
    return code, bytes(out), bytes(err)


def new_nonce() -> str:
    return secrets.token_hex(16)


def frame(remote: list[str], nonce: str) -> list[str]:
    """``remote`` run so that its ``--json`` answer comes framed by ``nonce`` (see :func:`read_frame`)."""
    return ["env", f"{ANSWER_FRAME_ENV}={nonce}", *remote]


def read_frame(out: str, nonce: str) -> Any:
    """The JSON between the two frame lines of ``nonce`` in a device's output; ValueError saying what was
    there instead. An edgevision on the device too old to frame its answers is read as before (its whole
    output one JSON document), which works as long as its shell prints nothing of its own."""
    begin, end = answer_frame(nonce)
    lines = [ln.rstrip("\r") for ln in out.splitlines()]
    if begin in lines and end in lines[lines.index(begin):]:
        first = lines.index(begin)
        body = "\n".join(lines[first + 1:lines.index(end, first)])
        try:
            return json.loads(body)
        except ValueError:
            raise ValueError(f"answered a frame that holds no JSON ({inert(body, 200)!r})") from None
    try:
        return json.loads(out)
    except ValueError:
        pass
    shown = inert(out.strip(), 200) or "nothing"
    raise ValueError(f"gave no answer deploy can read (it printed {shown}); an edgevision there that predates "
                     "framed answers cannot be told apart from what the login shell prints: upgrade it "
                     "(deploy --install)")
