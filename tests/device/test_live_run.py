"""`edgevision run` against a real MJPEG server on loopback that dies, hangs and comes back; signals."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest


def _grow(run, n: int, timeout: float) -> None:  # type: ignore[no-untyped-def]
    run.wait_events(len(run.lines) + n, timeout)


def test_stream_server_killed_frozen_and_restarted(models, mjpeg_server, run_process) -> None:
    folder = models.data / "test"
    server = mjpeg_server(folder, fps=25).start()
    run = run_process(models.int8, "--source", server.url, "--read-timeout", "1.5", "--top-k", "2")
    run.wait_events(15, 60)

    server.kill()                       # the camera goes away
    time.sleep(3.0)
    assert run.proc.poll() is None, "the run must survive a lost stream"
    restart = time.time()
    server2 = mjpeg_server(folder, fps=25, port=server.port).start()
    _grow(run, 15, 40)                  # labels resume on their own
    resumed = [e for e in run.events if e["t_capture"] > restart]
    assert len(resumed) >= 10

    server2.freeze()                    # the server keeps the socket open but sends nothing: a hung read
    time.sleep(4.0)
    assert run.proc.poll() is None
    frozen_at = len(run.lines)
    server2.kill()
    mjpeg_server(folder, fps=25, port=server.port).start()
    run.wait_events(frozen_at + 10, 40)

    assert run.stop(signal.SIGTERM) == 0, run.stderr
    events = run.events                 # every line is complete JSON
    frames = [e["frame"] for e in events]
    assert frames == sorted(set(frames)), "frame indices keep increasing across reconnections"
    assert all(e["source"] == server.url and len(e["top_k"]) == 2 for e in events)
    assert "source lost" in run.stderr and "source restored" in run.stderr
    assert "reconnects" in run.stderr  # the summary counts them
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_flushes_and_exits_zero(models, run_process, tmp_path: Path, sig: int) -> None:
    out = tmp_path / "labels.jsonl"
    run = run_process(models.int8, "--source", models.data / "test", "--loop", "--realtime", "--out", out)
    run.wait_events(30, 60)
    assert run.stop(sig) == 0, run.stderr
    file_lines = out.read_text().splitlines()
    assert out.read_text().endswith("\n")
    assert [json.loads(line) for line in file_lines]          # complete lines only
    stdout_frames = [e["frame"] for e in run.events]
    assert [json.loads(line)["frame"] for line in file_lines] == stdout_frames  # both sinks got every event
    assert "Traceback" not in run.stderr


def test_unreachable_stream_at_start_is_one_clear_error(cli, models) -> None:
    from tests.conftest import free_port

    r = cli("run", models.int8, "--source", f"http://127.0.0.1:{free_port()}/stream.mjpg", timeout=60)
    assert r.returncode == 2
    assert "error:" in r.stderr and "cannot open stream" in r.stderr and "Traceback" not in r.stderr


def test_give_up_after_exits_one(models, mjpeg_server, run_process) -> None:
    server = mjpeg_server(models.data / "test", fps=25).start()
    run = run_process(models.int8, "--source", server.url, "--read-timeout", "1", "--give-up-after", "2")
    run.wait_events(5, 60)
    server.kill()
    assert run.proc.wait(30) == 1
    run.stop()
    assert "gave_up" in run.stderr and "error:" in run.stderr
