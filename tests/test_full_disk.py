"""A full disk, for real: each test mounts a small tmpfs in a private mount namespace, fills it, and runs
the CLI there. Every writer must fail with one line, keep what it had, and leave no torn or partial file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, TrainedModels


def _unshare() -> list[str]:
    """A private mount namespace: as root directly, otherwise as the mapped root of a user namespace."""
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is not installed")
    cmd = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    probe = subprocess.run([*cmd, "true"], capture_output=True, text=True)
    if probe.returncode != 0:  # a kernel or container policy, not a missing install step
        pytest.skip(f"cannot create a mount namespace here: {probe.stderr.strip()}")
    return cmd


def in_small_fs(tmp_path: Path, size_kb: int, script: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (bash) with ``$M`` a fresh tmpfs of ``size_kb`` KiB, ``$EV`` the CLI, ``$OUT`` a normal
    folder (what is copied there outlives the mount). ``fill`` fills ``$M`` to the last byte."""
    mnt, out = tmp_path / "mnt", tmp_path / "out"
    mnt.mkdir()
    out.mkdir()
    prelude = (f'set -u\nmount -t tmpfs -o size={size_kb}k tmpfs "$M"\n'
               'fill() { dd if=/dev/zero of="$M/filler" bs=4k 2>/dev/null; true; }\n')
    env = {**os.environ, "M": str(mnt), "OUT": str(out), "EV": f"{sys.executable} -m edgevision",
           "PYTHONPATH": str(REPO), "COLUMNS": "200", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([*_unshare(), "bash", "-c", prelude + script], capture_output=True, text=True, env=env,
                          timeout=timeout)


def _errors(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("error:")]


def test_run_keeps_labelling_and_the_log_never_holds_a_torn_line(trained: TrainedModels, tmp_path: Path) -> None:
    """The labels file fills the disk mid-line; stdout goes on, the file resumes when space returns."""
    frames = tmp_path / "frames"
    shutil.copytree(trained.data / "test" / "circle", frames)
    proc = in_small_fs(tmp_path, 256, f"""
        fill; rm "$M/filler"; dd if=/dev/zero of="$M/filler" bs=4k count=$(( 256 / 4 - 3 )) 2>/dev/null
        $EV run {trained.int8} --source {frames} --loop --out "$M/labels.jsonl" >"$OUT/stdout.jsonl" 2>"$OUT/err" &
        pid=$!
        for i in $(seq 100); do grep -q "No space left" "$OUT/err" && break; sleep 0.1; done
        cp "$M/labels.jsonl" "$OUT/while_full.jsonl"
        rm "$M/filler"
        for i in $(seq 100); do grep -q "recovered" "$OUT/err" && break; sleep 0.1; done
        kill -TERM $pid; wait $pid; echo "rc=$?"
        cp "$M/labels.jsonl" "$OUT/labels.jsonl"
    """)
    out = tmp_path / "out"
    err = (out / "err").read_text()
    assert "rc=0" in proc.stdout, (proc.stdout, proc.stderr, err[-2000:])
    assert "No space left on device" in err and "recovered after" in err and "Traceback" not in err
    while_full = (out / "while_full.jsonl").read_bytes()
    assert while_full and while_full.endswith(b"\n")  # the line that hit the full disk was cut off again
    lines = (out / "labels.jsonl").read_text().splitlines()
    events = [json.loads(ln) for ln in lines]  # every line parses: nothing torn
    printed = (out / "stdout.jsonl").read_text().splitlines()
    assert len(printed) > len(events) > while_full.count(b"\n")  # stdout missed nothing; the file resumed
    assert [e["frame"] for e in events] == sorted(e["frame"] for e in events)


def test_bench_store_and_results_file_survive_a_full_disk(trained: TrainedModels, tmp_path: Path) -> None:
    proc = in_small_fs(tmp_path, 2048, f"""
        $EV bench {trained.int8} --runs 5 --threads 1 --store "$M/s.sqlite" --out "$M/r.json" >/dev/null 2>&1 || exit 9
        cp "$M/r.json" "$OUT/r_before.json"
        fill
        B="$EV bench {trained.int8} --runs 5 --threads 1 --json"
        $B --store "$M/s.sqlite" >"$OUT/store.json" 2>"$OUT/store.err"
        echo "store rc=$?"
        $B --no-store --out "$M/r.json" >"$OUT/out.json" 2>"$OUT/out.err"
        echo "out rc=$?"
        ls -a "$M" > "$OUT/ls"
        $EV bench list --store "$M/s.sqlite" --json > "$OUT/list.json"
        cp "$M/r.json" "$OUT/r_after.json"
    """)
    out = tmp_path / "out"
    assert "store rc=2" in proc.stdout and "out rc=2" in proc.stdout, (proc.stdout, proc.stderr)
    (store_err,) = _errors((out / "store.err").read_text())
    assert "s.sqlite: cannot store results" in store_err and "unchanged" in store_err
    (out_err,) = _errors((out / "out.err").read_text())
    assert "r.json: cannot write results" in out_err and "existing file is unchanged" in out_err
    for name in ("store.json", "out.json"):  # the measurement is printed even though it could not be kept
        (doc,) = json.loads((out / name).read_text())
        assert doc["metrics"]["invoke"]["runs"] == 5
    assert len(json.loads((out / "list.json").read_text())) == 1  # the result stored before is still there
    assert (out / "r_after.json").read_bytes() == (out / "r_before.json").read_bytes()
    assert "r.json.tmp" not in (out / "ls").read_text()


def test_device_install_on_a_full_disk_keeps_the_active_model(trained: TrainedModels, tmp_path: Path) -> None:
    b1, b2 = tmp_path / "b1.tar.gz", tmp_path / "b2.tar.gz"
    proc = in_small_fs(tmp_path, 1024, f"""
        $EV bundle {trained.int8} --profile x86-64 --out {b1} >/dev/null 2>&1 || exit 9
        $EV bundle {trained.float32} --profile x86-64 --out {b2} >/dev/null 2>&1 || exit 9
        $EV device install {b1} --root "$M/ev" >/dev/null 2>&1 && $EV device activate shapes --root "$M/ev" >/dev/null
        fill
        $EV device install {b2} --root "$M/ev" 2>"$OUT/err"; echo "rc=$?"
        readlink "$M/ev/current" > "$OUT/current"
        ls -a "$M/ev/releases" > "$OUT/releases"
    """)
    out = tmp_path / "out"
    assert "rc=2" in proc.stdout, (proc.stdout, proc.stderr)
    (err,) = _errors((out / "err").read_text())
    assert "no space left to unpack b2.tar.gz" in err and "active model is unchanged" in err
    assert "shapes_int8" in (out / "current").read_text()
    assert not [n for n in (out / "releases").read_text().split() if n.startswith(".staging")]


def test_training_on_a_full_disk_keeps_the_last_epoch_and_resumes(trained: TrainedModels, tmp_path: Path) -> None:
    run = "$M/run"
    args = f"{trained.data} --out {run}"
    proc = in_small_fs(tmp_path, 16384, f"""
        $EV train {args} --recipe small_cnn --set size=32 --epochs 1 >/dev/null 2>&1 || exit 9
        fill
        $EV train {args} --resume --epochs 3 >/dev/null 2>"$OUT/err"; echo "full rc=$?"
        cp "{run}/checkpoints/state.json" "$OUT/state.json"; ls "{run}/checkpoints" > "$OUT/ls"
        rm "$M/filler"
        $EV train {args} --resume --epochs 3 >/dev/null 2>"$OUT/err2"; echo "resumed rc=$?"
        cp "{run}/history.json" "$OUT/history.json"
    """, timeout=600)
    out = tmp_path / "out"
    assert "full rc=2" in proc.stdout and "resumed rc=0" in proc.stdout, (proc.stdout, _errors(
        (out / "err").read_text()), _errors((out / "err2").read_text() if (out / "err2").exists() else ""))
    (err,) = _errors((out / "err").read_text())
    assert "no space left to save epoch 2's checkpoint" in err and "epoch 1 is kept" in err
    assert json.loads((out / "state.json").read_text())["epochs_done"] == 1
    assert sorted((out / "ls").read_text().split()) == ["best-epoch-0001.weights.h5", "epoch-0001.keras",
                                                         "state.json"]
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 3
