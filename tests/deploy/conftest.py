"""Real components for the deploy tests: an OpenSSH server on loopback that plays the device, and a
live MJPEG camera stream for its service to label.

The sshd is the system's own binary with its own config, host key, authorized key and known_hosts,
all generated here; the remote side gets a temporary HOME. As root, sshd insists on its privilege
separation directory (/run/sshd, normally made by its init script), so the fixture creates it.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tests.conftest import Cli, free_port, need

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Sshd:
    port: int
    user: str
    key: Path
    known_hosts: Path
    home: Path
    log: Path
    bin: Path | None = None  # first on the device's PATH: tests put stand-ins for device-only tools here

    @property
    def target(self) -> str:
        return f"{self.user}@127.0.0.1"

    def ssh_args(self) -> list[str]:
        """What `edgevision deploy` needs to reach this device (its own key and known_hosts, no ~/.ssh)."""
        return [self.target, "--port", str(self.port), "--identity", str(self.key), "--known-hosts",
                str(self.known_hosts), "--ssh-config", "/dev/null"]

    def ssh(self, *remote: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Plain ssh to the device, as a user would type it."""
        import shlex

        argv = ["ssh", "-F", "/dev/null", "-p", str(self.port), "-i", str(self.key), "-o", "IdentitiesOnly=yes",
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o",
                f"UserKnownHostsFile={self.known_hosts}", self.target, shlex.join(remote)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgevision-test", "-f", str(path)],
                   check=True, capture_output=True)
    return path.with_suffix(".pub").read_text().strip()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    need(Path(SSHD).exists() and shutil.which("ssh") is not None and shutil.which("ssh-keygen") is not None,
         "OpenSSH server/client not installed (apt install openssh-server openssh-client)")
    d = tmp_path_factory.mktemp("sshd")
    host_pub = _keygen(d / "host_key")
    client_pub = _keygen(d / "client_key")
    (d / "authorized_keys").write_text(client_pub + "\n")
    home = d / "home"
    home.mkdir()
    (d / "bin").mkdir()
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    for _ in range(3):
        port = free_port()
        (d / "sshd_config").write_text("\n".join([
            f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {d / 'host_key'}", f"PidFile {d / 'sshd.pid'}",
            f"AuthorizedKeysFile {d / 'authorized_keys'}", "UsePAM no", "StrictModes no",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password", f"SetEnv HOME={home} PATH={d / 'bin'}:{SYSTEM_PATH}",
            "MaxSessions 50", "MaxStartups 50:30:100",
            "Subsystem sftp internal-sftp", "LogLevel VERBOSE", ""]))
        log = d / "sshd.log"
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stdout=subprocess.DEVNULL,
                                stderr=open(log, "ab"))  # noqa: SIM115 - the server owns it until terminated
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    if s.recv(64).startswith(b"SSH-"):
                        break
            except OSError:
                time.sleep(0.05)
        if proc.poll() is None:
            break
    else:
        pytest.fail(f"sshd did not start: {log.read_text()[-2000:]}")
    known = d / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {' '.join(host_pub.split()[:2])}\n")
    try:
        yield Sshd(port, getpass.getuser(), d / "client_key", known, home, log, d / "bin")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class _Stream(BaseHTTPRequestHandler):
    frames: ClassVar[list[bytes]] = []
    fps = 10.0

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        i = 0
        try:
            while True:
                jpg = self.frames[i % len(self.frames)]
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpg)
                                 + jpg + b"\r\n")
                i += 1
                time.sleep(1.0 / self.fps)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def camera(models) -> Iterator[str]:
    """A live MJPEG stream at ~10 FPS on loopback, cycling the test images: the device's camera."""
    import cv2

    frames = []
    for png in sorted((models.data / "test" / "star").glob("*.png"))[:8]:
        ok, jpg = cv2.imencode(".jpg", cv2.imread(str(png)))
        assert ok
        frames.append(jpg.tobytes())
    handler = type("Stream", (_Stream,), {"frames": frames})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def device_root(tmp_path: Path, device_python: str) -> Iterator[Path]:
    """An empty device root; whatever service the test started there is stopped afterwards."""
    root = tmp_path / "device root"  # a space on purpose: every path must survive quoting
    yield root
    if (root / "service").is_dir():
        subprocess.run([device_python, "-m", "edgevision", "device", "service", "stop", "--root", str(root)],
                       capture_output=True, timeout=60)


def device_cli(device_python: str) -> Cli:
    """`edgevision` as the device runs it: the TF-free venv, no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["COLUMNS"] = "200"
    return Cli(device_python, env)
