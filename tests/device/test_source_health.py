"""Live-source health (issue 12): --give-up-after counts from the last good frame, and a source that
connects and then fails without a frame backs off instead of reconnecting every half second."""

from __future__ import annotations

import random
import socket
import threading
import time

import numpy as np

from edgevision.runtime.frames import Frame
from edgevision.sources.capture import CaptureThread, LatestFrameSlot, ReconnectPolicy
from edgevision.sources.frame_sources import SourceInfo


class EmptyAfterFirst:
    """The first instance delivers frames then ends; every later one opens fine but ends at once."""

    live = True

    def __init__(self, shared: dict | None = None) -> None:
        self.shared = shared if shared is not None else {"instances": 0}
        self.index = self.shared["instances"]
        self.n = 0

    def fresh(self) -> EmptyAfterFirst:
        return EmptyAfterFirst(self.shared)

    def open(self) -> SourceInfo:
        self.shared["instances"] += 1
        return SourceInfo("empty", "test", True, 100.0, 4, 4)

    def read(self) -> Frame | None:
        self.n += 1
        if self.index > 0 or self.n > 5:
            return None
        time.sleep(0.005)
        return Frame(np.zeros((4, 4, 3), np.uint8), self.n, "empty", time.time(), 0.0)

    def close(self) -> None:
        pass


def test_connect_then_fail_backs_off_and_gives_up_from_the_last_frame() -> None:
    src = EmptyAfterFirst()
    src.open()
    slot, stop, statuses = LatestFrameSlot(), threading.Event(), []
    policy = ReconnectPolicy(read_timeout=1.0, backoff_initial=0.05, backoff_factor=2.0, backoff_max=0.4,
                             give_up_after=1.5)
    thread = CaptureThread(src, slot, stop, policy=policy, on_status=statuses.append)
    t0 = time.monotonic()
    thread.start()
    thread.join(15)
    elapsed = time.monotonic() - t0
    assert not thread.is_alive(), "give-up never fired"
    assert isinstance(thread.error, TimeoutError) and statuses[-1].state == "gave_up"
    assert 1.4 < elapsed < 4.0
    attempts = [s.attempt for s in statuses if s.state == "reconnecting"]
    assert attempts == list(range(1, len(attempts) + 1)), "the backoff restarted although no frame came"
    assert len(attempts) <= 8  # 0.05, 0.1, 0.2, 0.4, 0.4 ... not one every 0.05 s


def _garbage_camera(frames: list[bytes]) -> tuple[int, threading.Event, list[int]]:
    """Loopback MJPEG camera: the first connection gets real frames then closes; later ones get the
    multipart headers and parts that are not images, then close (a camera whose encoder died)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    done, connections = threading.Event(), [0]

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            connections[0] += 1
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=f\r\n\r\n")
                    # random bytes: FFmpeg opens the stream, then every read fails (a JPEG prefix would be
                    # concealed into a gray frame, which counts as a frame)
                    parts = frames * 5 if connections[0] == 1 else [random.Random(i).randbytes(3000) for i in range(3)]
                    for jpeg in parts:
                        conn.sendall(b"--f\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                     + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                        time.sleep(0.04)
                except OSError:
                    pass
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], done, connections


def test_live_stream_that_stops_sending_frames_gives_up(models, run_process) -> None:
    import cv2

    images = sorted((models.data / "test").rglob("*.png"))[:4]
    frames = [cv2.imencode(".jpg", cv2.imread(str(p)))[1].tobytes() for p in images]
    port, done, connections = _garbage_camera(frames)
    try:
        t0 = time.monotonic()
        run = run_process(models.int8, "--source", f"http://127.0.0.1:{port}/stream.mjpg", "--read-timeout", "2",
                          "--give-up-after", "6")
        run.wait_events(1, 60)
        assert run.proc.wait(60) == 1
        elapsed = time.monotonic() - t0
        run.stop()
    finally:
        done.set()
    assert "gave_up" in run.stderr and "error:" in run.stderr and "Traceback" not in run.stderr
    assert elapsed < 40
    assert connections[0] <= 8, f"{connections[0]} connections in {elapsed:.0f} s: no backoff"
