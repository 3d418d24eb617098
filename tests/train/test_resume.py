"""A run killed with SIGKILL mid-epoch resumes and ends exactly like an uninterrupted run."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import HAS_TF, need

pytestmark = pytest.mark.tf
ARGS = ["--size", "32", "--epochs", "4", "--batch-size", "16", "--set", "patience=0"]


def _wait_for_epochs(state: Path, proc: subprocess.Popen, n: int, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"training ended before it could be killed (exit {proc.returncode})")
        try:
            s = json.loads(state.read_text())
            if s["epochs_done"] >= n:
                return s
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"no checkpoint of epoch {n} within {timeout} s")


def _into_next_epoch(state: dict) -> float:
    """A moment into epoch 2. Epoch 1 also pays for tracing (20x a later epoch on a loaded machine), so a
    fraction of it could outlast the whole run: capped well below a later epoch's length."""
    return min(0.4 * state["history"]["seconds"][-1], 0.3)


def test_sigkill_mid_epoch_then_resume(cli, shapes_data: Path, tmp_path: Path) -> None:
    need(HAS_TF, "TensorFlow is not installed")
    full = cli("train", shapes_data, "--out", tmp_path / "full", *ARGS, "--json")
    assert full.returncode == 0, full.stderr

    run = tmp_path / "killed"
    log = (tmp_path / "killed.log").open("w")
    proc = subprocess.Popen([cli.python, "-m", "edgevision", "train", str(shapes_data), "--out", str(run), *ARGS],
                            stdout=log, stderr=log, env=cli.env)
    try:
        state = _wait_for_epochs(run / "checkpoints" / "state.json", proc, 1)
        time.sleep(_into_next_epoch(state))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    done = json.loads((run / "checkpoints" / "state.json").read_text())["epochs_done"]
    assert 1 <= done < 4 and not (run / "run.json").exists()

    fresh = cli("train", shapes_data, "--out", run, *ARGS)
    assert fresh.returncode == 2 and "unfinished run" in fresh.stderr and "--resume" in fresh.stderr
    other = cli("train", shapes_data, "--out", run, "--resume", "--arch", "mobilenet_v2")
    assert other.returncode == 2 and "settings differ: arch" in other.stderr

    resumed = cli("train", shapes_data, "--out", run, "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    a, b = json.loads(full.stdout), json.loads(resumed.stdout)
    assert b["epochs_run"] == a["epochs_run"] == 4 and b["resumed_at"] == [done]
    h_full = json.loads((tmp_path / "full" / "history.json").read_text())
    h_resumed = json.loads((run / "history.json").read_text())
    for key in ("loss", "val_loss", "val_accuracy"):  # the finished epochs were kept, the rest replayed exactly
        np.testing.assert_allclose(h_resumed[key], h_full[key], rtol=1e-5)
    assert b["accuracy"] == pytest.approx(a["accuracy"])

    again = cli("train", shapes_data, "--out", run, "--resume")
    assert again.returncode == 0 and "already finished" in again.stderr
    nothing = cli("train", shapes_data, "--out", tmp_path / "empty", "--resume")
    assert nothing.returncode == 2 and "nothing to resume" in nothing.stderr


def test_sigterm_ends_like_ctrl_c_and_says_how_to_resume(cli, shapes_data: Path, tmp_path: Path) -> None:
    need(HAS_TF, "TensorFlow is not installed")
    run = tmp_path / "terminated"
    proc = subprocess.Popen([cli.python, "-m", "edgevision", "train", str(shapes_data), "--out", str(run), *ARGS],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli.env)
    try:
        state = _wait_for_epochs(run / "checkpoints" / "state.json", proc, 1)
        time.sleep(_into_next_epoch(state))
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err[-3000:]
    assert "interrupted" in err and "--resume" in err
    assert json.loads((run / "checkpoints" / "state.json").read_text())["epochs_done"] >= 1
