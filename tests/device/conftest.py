"""Real components for the device tests, started by the tests: an MJPEG camera server on loopback,
a mosquitto broker on a free loopback port, headless Chromium, and `edgevision run` as a process."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port, need

HERE = Path(__file__).resolve().parent


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


@dataclass
class MjpegServer:
    """tests/device/mjpeg_server.py as a process that can be killed, frozen and restarted on its port."""

    folder: Path
    fps: float = 20.0
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None
    auth: str | None = None  # user:password the camera asks for (HTTP Basic)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def start(self) -> MjpegServer:
        self.proc = subprocess.Popen([sys.executable, str(HERE / "mjpeg_server.py"), str(self.port), str(self.folder),
                                      str(self.fps), *([self.auth] if self.auth else [])], stdout=subprocess.PIPE,
                                     text=True, env=env())
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("READY"), line
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(5)

    def freeze(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)


@pytest.fixture()
def mjpeg_server(tmp_path: Path) -> Iterator[type[MjpegServer]]:
    started: list[MjpegServer] = []

    class Tracked(MjpegServer):
        def start(self) -> MjpegServer:
            started.append(self)
            return super().start()

    yield Tracked
    for s in started:
        s.kill()


@dataclass
class Mosquitto:
    """A real mosquitto broker on a free loopback port, with a generated config."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        f"log_dest file {self.workdir / 'mosquitto.log'}\n")
        self.proc = subprocess.Popen([shutil.which("mosquitto") or "mosquitto", "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


@pytest.fixture()
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    need(shutil.which("mosquitto") is not None, "mosquitto is not installed (Debian package mosquitto)")
    need(_importable("paho.mqtt.client"), "paho-mqtt is not installed (pip install -e '.[mqtt]')")
    broker = Mosquitto(tmp_path)
    yield broker
    broker.stop()


def _importable(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


class Subscriber:
    """A paho subscriber collecting (topic, payload, retained) into a queue."""

    def __init__(self, port: int, topics: list[str], login: tuple[str, str] | None = None) -> None:
        import paho.mqtt.client as mqtt

        self.messages: queue.Queue[tuple[str, str, bool]] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{os.getpid()}-{id(self)}")
        if login is not None:
            self.client.username_pw_set(*login)
        ready = threading.Event()

        def on_connect(client, userdata, flags, rc, props) -> None:  # type: ignore[no-untyped-def]
            for t in topics:
                client.subscribe(t, qos=1)
            ready.set()

        self.client.on_connect = on_connect
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload.decode(), bool(m.retain)))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert ready.wait(10), "test subscriber could not connect"

    def collect(self, until: float, predicate=lambda msgs: False) -> list[tuple[str, str, bool]]:  # type: ignore[no-untyped-def]
        out: list[tuple[str, str, bool]] = []
        deadline = time.monotonic() + until
        while time.monotonic() < deadline and not predicate(out):
            try:
                out.append(self.messages.get(timeout=0.1))
            except queue.Empty:
                pass
        return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class RunProcess:
    """`edgevision run` as a real process; stdout lines are read in a thread (parsed JSON events)."""

    def __init__(self, *args: str | Path, python: str = sys.executable) -> None:
        self.proc = subprocess.Popen([python, "-m", "edgevision", "run", *map(str, args)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env())
        self.lines: list[str] = []
        self.stderr = ""
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def events(self) -> list[dict]:
        return [json.loads(line) for line in list(self.lines)]

    def wait_events(self, n: int, timeout: float) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.lines) < n and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        assert len(self.lines) >= n, f"only {len(self.lines)} events after {timeout} s; stderr: {self._err()}"
        return self.events

    def _err(self) -> str:
        if self.proc.poll() is not None and self.proc.stderr is not None:
            self.stderr += self.proc.stderr.read()
        return self.stderr[-3000:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(5)
        self._t.join(5)
        assert self.proc.stderr is not None
        self.stderr += self.proc.stderr.read()
        return rc


@pytest.fixture()
def run_process() -> Iterator[type[RunProcess]]:
    procs: list[RunProcess] = []

    class Tracked(RunProcess):
        def __init__(self, *args: str | Path, **kw: str) -> None:
            super().__init__(*args, **kw)
            procs.append(self)

    yield Tracked
    for p in procs:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(5)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    need(path is not None, "chromium is not installed (Debian package chromium)")
    need(_importable("playwright.sync_api"), "playwright is not installed (pip install -e '.[dev]')")
    return str(path)


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
