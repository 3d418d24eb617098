"""The device lab: an emulated Raspberry Pi userland (Debian arm64/armhf under qemu-user) reached over SSH.

A device is the cached rootfs tarball from ``device/lab/build.sh`` unpacked afresh, booted with its own
systemd as PID 1 by ``systemd-nspawn --boot`` (so ``deploy --service`` meets a real ``systemctl``), sharing
the host's network: its sshd listens on a free loopback port and the desktop side deploys to
``pi@127.0.0.1`` with a key made here. What a Pi has and a VM lacks is added from the host, never from
the host's hardware: ``/sys/firmware/devicetree/base/model`` is a bind-mounted file naming the board,
and ``/sys/devices/system/cpu`` is hidden behind an empty tmpfs (with the host's CPU topology visible,
ai-edge-litert's cpuinfo segfaults under qemu-user). The egress CA bundle of this machine is copied in,
as a site's network would be configured on a real board.

Usable by hand too::

    python -m tests.devicelab.lab start bookworm-arm64      # prints the ssh command, Ctrl-C stops it
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "device" / "lab" / "build.sh"
QEMU_SHIM = REPO / "device" / "lab" / "qemu_user_shim.c"
CACHE = Path(os.environ.get("EDGEVISION_LAB_CACHE", Path.home() / ".cache" / "edgevision-lab"))
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class Target:
    name: str
    arch: str          # what platform.machine() says on the device
    python: str        # major.minor of the system python3
    interpreter: str   # the TFLite interpreter wheel it must end up with
    board: str         # the device-tree model string
    picamera2: bool    # the distribution has python3-libcamera
    cc: str            # the host's cross compiler for the lab's qemu-user shim
    manager: str       # what runs the deployed service in the lab: systemd (--user) or supervisor


TARGETS = {t.name: t for t in (
    Target("bookworm-arm64", "aarch64", "3.11", "ai-edge-litert", "Raspberry Pi 5 Model B Rev 1.0", False,
           "aarch64-linux-gnu-gcc", "systemd"),
    Target("trixie-arm64", "aarch64", "3.13", "ai-edge-litert", "Raspberry Pi 4 Model B Rev 1.5", True,
           "aarch64-linux-gnu-gcc", "systemd"),
    Target("bookworm-armhf", "armv7l", "3.11", "tflite-runtime", "Raspberry Pi 3 Model B Plus Rev 1.3", False,
           "arm-linux-gnueabihf-gcc", "systemd"),
)}


def tarball(target: str) -> Path:
    return CACHE / f"{target}.tar"


def build(target: str) -> Path:
    """Build the target's rootfs tarball unless it is cached (build.sh retries a mirror mid-sync)."""
    subprocess.run(["sh", str(BUILD), target, str(CACHE)], check=True)
    return tarball(target)


def build_failure(target: str) -> str:
    """Why the last build of the target failed (build.sh's status file), or "" when it did not fail."""
    try:
        status = (CACHE / f"{target}.status").read_text(errors="replace").strip()
    except OSError:
        return ""
    return status.removeprefix("failed:").strip() if status.startswith("failed") else ""


def missing_tools() -> list[str]:
    tools = ("systemd-nspawn", "ssh", "ssh-keygen", "mmdebstrap", *sorted({t.cc for t in TARGETS.values()}))
    return [t for t in tools if shutil.which(t) is None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgevision-lab", "-f", str(path)],
                   check=True, capture_output=True)
    return path.with_suffix(".pub").read_text().strip()


def _banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


@dataclass
class Device:
    """One booted device; ``stop()`` powers it off and removes its rootfs."""

    target: Target
    work: Path
    port: int
    key: Path
    known_hosts: Path
    proc: subprocess.Popen[bytes]
    user: str = "pi"

    @property
    def rootfs(self) -> Path:
        return self.work / "rootfs"

    @property
    def log(self) -> Path:
        return self.work / "console.log"

    @property
    def host(self) -> str:
        return f"{self.user}@127.0.0.1"

    def ssh_args(self) -> list[str]:
        """What `edgevision deploy` needs to reach this device."""
        return [self.host, "--port", str(self.port), "--identity", str(self.key), "--known-hosts",
                str(self.known_hosts), "--ssh-config", "/dev/null"]

    def ssh_argv(self, command: str) -> list[str]:
        return ["ssh", "-F", "/dev/null", "-p", str(self.port), "-i", str(self.key), "-o", "IdentitiesOnly=yes",
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o",
                f"UserKnownHostsFile={self.known_hosts}", self.host, command]

    def ssh(self, command: str, timeout: float = 600, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """A shell command on the device as the pi user (a login shell's PATH, no desktop environment)."""
        return subprocess.run(self.ssh_argv(command), capture_output=True, text=True, timeout=timeout,
                              input=stdin if stdin is not None else "")

    def stop(self) -> None:
        if self.proc.poll() is None:
            # nspawn asks the container's systemd to power off (SIGRTMIN+3); under qemu-user that signal may
            # not arrive (qemu keeps some real-time signals for itself), so the container is killed soon after.
            inits = _children(self.proc.pid)  # the container's PID 1: killing it ends its whole PID namespace
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                for pid in inits:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.proc.kill()
                self.proc.wait(timeout=30)
        shutil.rmtree(self.work, ignore_errors=True)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _prepare(rootfs: Path, work: Path, target: Target, port: int, client_pub: str) -> None:
    """Per-boot state: host keys, the pi user's key, sshd on a loopback port, the board, the CA bundle."""
    subprocess.run(["ssh-keygen", "-A", "-f", str(rootfs)], check=True, capture_output=True)
    (rootfs / "etc/ssh/sshd_config.d/lab.conf").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "MaxSessions 50\nMaxStartups 50:30:100\n")
    ssh_dir = rootfs / "home/pi/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(client_pub + "\n")
    for p in (ssh_dir, ssh_dir / "authorized_keys"):
        os.chown(p, 1000, 1000)
    (ssh_dir / "authorized_keys").chmod(0o600)
    if HOST_CA.is_file():  # this site's egress CA: pip on the device must trust what the host trusts
        shutil.copyfile(HOST_CA, rootfs / "etc/ssl/certs/ca-certificates.crt")
        (rootfs / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    dt = work / "firmware" / "devicetree" / "base"
    dt.mkdir(parents=True)
    (dt / "model").write_bytes(target.board.encode() + b"\0")   # NUL-terminated, as the kernel exposes it
    (work / "cpu").mkdir()
    (work / "incoming").mkdir(mode=0o700)
    _qemu_user_shim(rootfs, target)
    _no_credentials(rootfs)
    if target.manager == "systemd":
        # What `sudo loginctl enable-linger pi` (edgevision's fallback) does on a Pi; sudo cannot work here
        # (binfmt_misc's qemu entries lack the credentials flag, so setuid is ignored).
        linger = rootfs / "var/lib/systemd/linger"
        linger.mkdir(parents=True, exist_ok=True)
        (linger / "pi").touch()


def _qemu_user_shim(rootfs: Path, target: Target) -> None:
    """Preload device/lab/qemu_user_shim.c (see there): built here with the cross compiler for the target,
    it makes the booted systemd usable under qemu-user 7.2 (`systemctl --user` answers; trixie's units start)."""
    lib = "/usr/local/lib/edgevision-lab/qemu_user_shim.so"
    (rootfs / lib[1:]).parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([target.cc, "-O2", "-Wall", "-shared", "-fPIC", "-o", str(rootfs / lib[1:]), str(QEMU_SHIM)],
                   check=True, capture_output=True)
    (rootfs / "etc/ld.so.preload").write_text(lib + "\n")


_CREDENTIAL_KEYS = ("ImportCredential", "LoadCredential", "LoadCredentialEncrypted", "SetCredential",
                    "SetCredentialEncrypted")


def _no_credentials(rootfs: Path) -> None:
    """Drop-ins that clear the system credentials units import (journald, sysusers, tmpfiles, getty...).

    systemd 257 mounts a unit's credentials directory with the new mount API (fsopen/fsmount), which
    qemu-user does not emulate: such a unit fails with 243/CREDENTIALS before it runs, and with journald
    and tmpfiles down nothing logs. The lab passes no credentials to its devices (nor does a Pi's
    firmware), so clearing the lists changes nothing else; systemd without the directives ignores them."""
    units = rootfs / "usr/lib/systemd/system"
    for unit in sorted(units.glob("*.service")):
        try:
            text = unit.read_text(errors="replace")
        except OSError:
            continue
        keys = [k for k in _CREDENTIAL_KEYS if f"\n{k}=" in text]
        if keys:
            drop = rootfs / "etc/systemd/system" / f"{unit.name}.d" / "edgevision-lab-no-credentials.conf"
            drop.parent.mkdir(parents=True, exist_ok=True)
            drop.write_text("# device lab: qemu-user cannot mount credentials (tests/devicelab/lab.py)\n[Service]\n"
                            + "".join(f"{k}=\n" for k in keys))


# What a command run inside the rootfs sees: nothing of this machine's environment (no LD_PRELOAD, no venv).
_CLEAN_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


def start(name: str, timeout: float = 600) -> Device:
    """Unpack a fresh copy of the target's rootfs and boot it; returns once its sshd answers."""
    target = TARGETS[name]
    tar = tarball(name)
    if not tar.is_file():
        raise FileNotFoundError(f"{tar}: build it first (make devicelab LAB_TARGETS={name})")
    work = Path(tempfile.mkdtemp(prefix=f"ev-lab-{name}-", dir="/var/tmp"))
    rootfs = work / "rootfs"
    rootfs.mkdir()
    with tarfile.open(tar) as tf:
        tf.extractall(rootfs, filter="fully_trusted")   # our own build: device nodes, setuid sudo, owners
    port = _free_port()
    client_pub = _keygen(work / "id_ed25519")
    _prepare(rootfs, work, target, port, client_pub)
    host_pub = (rootfs / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
    known = work / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    argv = ["systemd-nspawn", "--quiet", "--directory", str(rootfs), "--boot", "--register=no", "--keep-unit",
            f"--machine=ev-{name}", "--resolv-conf=copy-host", "--timezone=off", "--link-journal=no",
            "--console=pipe", f"--bind-ro={work / 'firmware'}:/sys/firmware",
            f"--bind-ro={work / 'cpu'}:/sys/devices/system/cpu",
            # systemd 257 makes /run/systemd/incoming a mount point with the new mount API (which qemu-user
            # lacks); every unit with a mount namespace then fails (226/NAMESPACE) remounting it MS_SLAVE.
            f"--bind={work / 'incoming'}:/run/systemd/incoming"]
    log = open(work / "console.log", "wb")  # noqa: SIM115 - nspawn owns it until it exits
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    dev = Device(target, work, port, work / "id_ed25519", known, proc)
    try:
        _wait_for_sshd(dev, timeout)
    except BaseException:   # includes Ctrl-C while booting: never leave a container behind
        dev.stop()
        raise
    return dev


def _wait_for_sshd(dev: Device, timeout: float) -> None:
    name = dev.target.name
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dev.proc.poll() is not None:
            text = dev.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name}: systemd-nspawn exited ({dev.proc.returncode}):\n{text}")
        if _banner(dev.port):
            return
        time.sleep(1)
    text = dev.log.read_text(errors="replace")[-3000:] or "(empty console)"
    raise TimeoutError(f"{name}: sshd did not answer within {timeout:.0f} s:\n{text}\n{_diagnose(dev)}")


def _diagnose(dev: Device) -> str:
    """What the container's systemd says about its failed units (its console stays empty under nspawn)."""
    inits = _children(dev.proc.pid)
    if not inits:
        return ""
    try:
        out = subprocess.run(["nsenter", "-t", str(inits[0]), "-a", "/usr/bin/systemctl", "--failed", "--no-pager",
                              "--no-legend"], capture_output=True, text=True, timeout=120, env=_CLEAN_ENV)
    except (OSError, subprocess.SubprocessError) as e:
        return f"systemctl --failed in the container: {e}"
    return "failed units:\n" + (out.stdout + out.stderr).strip()


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Build or boot an emulated Raspberry Pi userland.")
    ap.add_argument("action", choices=("build", "start"))
    ap.add_argument("target", choices=sorted(TARGETS))
    args = ap.parse_args(argv)
    if args.action == "build":
        print(build(args.target))
        return 0
    signal.signal(signal.SIGTERM, signal.default_int_handler)   # `kill PID` stops it as Ctrl-C does
    signal.signal(signal.SIGINT, signal.default_int_handler)    # also when started in the background
    dev = start(args.target)
    print(" ".join(dev.ssh_argv("")).strip(), flush=True)
    try:
        dev.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        dev.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
