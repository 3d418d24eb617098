"""Hostile inputs to the field loop, through the real CLI in the TensorFlow-free venv, each made byte by byte here.

- ``device samples pull`` from a device that is not to be trusted (the sshd of the deploy tests, with a
  stand-in for the device's edgevision that sends what the test wrote): streams of more entries than the
  limit, of hundreds of megabytes, index lines whose time is ``NaN`` or ``1e300`` or nested thousands deep, a
  label of 64 four-byte characters, a greeting before the stream, a device that goes silent or trickles. The
  pull ends in a folder inside ``--out`` or one ``error:`` line, in bounded memory and time.
- ``deploy`` against a device that prints without end: one line, bounded memory.
- the device's own files read back by ``device status`` and ``device samples export``: a drift state that is
  torn, mistyped, nested deep or a FIFO; a samples index of 800,000 lines; a link planted in the samples
  folder that points at a private file; a 700 MB file there.
- reference profiles (inside a model, or ``--drift-profile``) nested deep or named as a FIFO, and a metrics
  token file that is a FIFO: one line, never a hang.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.deploy.conftest import Sshd
from tests.hostile_inputs import one_error, peak_rss

LIMIT_MB = 100
SECRET = "private-key-material-7f3a9c"
JPEG = b"\xff\xd8\xff\xe0 not really a jpeg"


def _entry(n: int, **fields: object) -> dict[str, object]:
    return {"file": f"20240101T000000-{n}.jpg", "bytes": len(JPEG), "t": 1_700_000_000.0 + n, "label": "circle",
            "score": 0.3, **fields}


def _header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode = size, 0o644
    return info.tobuf(tarfile.USTAR_FORMAT)


def _member(name: str, data: bytes) -> bytes:
    return _header(name, len(data)) + data + bytes(-len(data) % tarfile.BLOCKSIZE)


def _stream(index: bytes, *files: tuple[str, bytes]) -> bytes:
    """A samples stream as `device samples export` writes one: the index first, then the files, then the end."""
    return _member("samples.jsonl", index) + b"".join(_member(n, d) for n, d in files) + bytes(1024)


def _lines(*entries: dict[str, object]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in entries)


def _device(tmp_path: Path, name: str, body: str) -> Path:
    """A stand-in for the device's edgevision (passed as --remote-python): a shell script doing ``body``."""
    script = tmp_path / f"{name}.sh"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return script


def _framed(stream: Path) -> str:
    """What the device's edgevision sends: the frame line naming the desktop's nonce, then the tar."""
    return f'echo "-----BEGIN EDGEVISION ANSWER $EDGEVISION_ANSWER_FRAME-----"; cat "{stream}"'


def _pull(cli: Cli, sshd: Sshd, tmp_path: Path, device: Path, out: Path, seconds: float = 60,
          **env: str) -> dict:
    argv = [cli.python, "-m", "edgevision", "device", "samples", "pull", *sshd.ssh_args(), "--out", str(out),
            "--root", str(tmp_path / "root"), "--remote-python", str(device), "--json"]
    result = peak_rss(argv, {**cli.env, **env}, tmp_path, term_after=seconds)
    assert not result["terminated"], f"still running after {seconds} s: {result['stderr'][-2000:]}"
    return result


@pytest.mark.usefixtures("sshd")
def test_samples_pull_takes_odd_index_lines_as_data_and_names_folders_the_disk_accepts(
        cli: Cli, sshd: Sshd, tmp_path: Path) -> None:
    wide = "\U0001d54f" * 64  # 64 characters, 256 bytes in UTF-8: one more than a file name may have
    index = (_lines(_entry(1, label=wide), _entry(2, label="=cmd|' /C calc'!A0", source="@SUM(1)"),
                    _entry(3, t=1e300), _entry(4, label="../../up"))
             + b'{"file": "20240101T000000-5.jpg", "bytes": 3, "t": NaN}\n'
             + b'{"file": "20240101T000000-6.jpg", "top_k": ' + b"[" * 5000 + b"\n")
    stream = tmp_path / "stream.tar"
    stream.write_bytes(_stream(index, *[(f"20240101T000000-{i}.jpg", JPEG) for i in range(1, 7)]))
    out = tmp_path / "out"
    greeting = f"echo 'Welcome to cam1'; printf '\\033]0;pwned\\007\\n'; {_framed(stream)}"
    r = _pull(cli, sshd, tmp_path, _device(tmp_path, "odd", greeting), out)
    assert r["code"] == 0 and "Traceback" not in r["stderr"], r["stderr"][-3000:]
    report = json.loads(r["stdout"])
    assert report["pulled"] == 3 and report["skipped"] == 3, report  # NaN, 1e300 and the deep line: not entries
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*.jpg"))
    assert len(files) == 3 and all(len(f.split("/")[0].encode()) <= 128 for f in files), files
    assert "up/20240101T000000-4.jpg" in files
    rows = (out / "scores.csv").read_text(encoding="utf-8")
    assert "'=cmd|" in rows and "'@SUM(1)" in rows and "\n=" not in rows and ",=" not in rows


@pytest.mark.usefixtures("sshd")
def test_samples_pull_of_a_big_or_crowded_stream_costs_bounded_memory(cli: Cli, sshd: Sshd, tmp_path: Path) -> None:
    """160 MB of samples used to be held in memory whole; 20,000 entries were all read before any check."""
    big = tmp_path / "big.tar"
    blob = os.urandom(8 << 20)
    with open(big, "wb") as fh:
        fh.write(_member("samples.jsonl", _lines(*[_entry(i, bytes=len(blob)) for i in range(20)])))
        for i in range(20):
            fh.write(_header(f"20240101T000000-{i}.jpg", len(blob)) + blob)
        fh.write(bytes(1024))
    r = _pull(cli, sshd, tmp_path, _device(tmp_path, "big", _framed(big)), tmp_path / "out")
    assert r["code"] == 0, r["stderr"][-3000:]
    assert json.loads(r["stdout"])["pulled"] == 20 and r["peak_rss_mb"] < LIMIT_MB, r["peak_rss_mb"]
    crowded = tmp_path / "crowded.tar"
    with open(crowded, "wb") as fh:
        fh.write(_member("samples.jsonl", b""))
        for i in range(20_000):
            fh.write(_header(f"20240101T000000-{i}.jpg", 0))
        fh.write(bytes(1024))
    r = _pull(cli, sshd, tmp_path, _device(tmp_path, "crowded", _framed(crowded)), tmp_path / "out2")
    one_error(r, "more than 10001 entries")
    assert r["peak_rss_mb"] < LIMIT_MB, r["peak_rss_mb"]


@pytest.mark.usefixtures("sshd")
@pytest.mark.parametrize("body", ["sleep 120", "while true; do printf x; sleep 1; done"], ids=["silent", "trickle"])
def test_samples_pull_gives_up_on_a_silent_or_trickling_device(cli: Cli, sshd: Sshd, tmp_path: Path,
                                                               body: str) -> None:
    t0 = time.monotonic()
    r = _pull(cli, sshd, tmp_path, _device(tmp_path, "slow", body), tmp_path / "out", seconds=40,
              EDGEVISION_MAX_SILENCE_SECONDS="3")
    one_error(r, "in 3 s; given up", "EDGEVISION_MAX_SILENCE_SECONDS")
    assert time.monotonic() - t0 < 30


@pytest.mark.usefixtures("sshd")
def test_deploy_refuses_a_device_that_prints_without_end(cli: Cli, models, sshd: Sshd, tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar.gz"
    made = cli("bundle", models.int8, "--profile", "x86-64", "--source", models.data / "test", "--out", bundle)
    assert made.returncode == 0, made.stderr
    argv = [cli.python, "-m", "edgevision", "deploy", str(bundle), *sshd.ssh_args(), "--root",
            str(tmp_path / "root"), "--remote-python", str(_device(tmp_path, "chatty", "yes"))]
    r = peak_rss(argv, cli.env, tmp_path, term_after=60)
    assert not r["terminated"], r["stderr"][-2000:]
    one_error(r, "printed more than 16 MB")
    assert r["peak_rss_mb"] < LIMIT_MB, r["peak_rss_mb"]


def _status(cli: Cli, root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("device", "status", "--root", root, *extra, timeout=30)


@pytest.mark.parametrize("state", [
    b'{"event": "drift", "state": "drifting", "moved": 5}',
    b'{"event": "drift", "state": "ok", "psi": ' + b"[" * 20000 + b"]" * 20000 + b"}",
    b'{"event": "drift", "state": "[/b]\x1b[2J"}',
    b"fifo",
], ids=["mistyped", "deep", "hostile", "fifo"])
def test_device_status_says_a_damaged_drift_state_and_goes_on(cli: Cli, tmp_path: Path, state: bytes) -> None:
    root = tmp_path / "root"
    root.mkdir()
    if state == b"fifo":
        os.mkfifo(root / "drift.json")
    else:
        (root / "drift.json").write_bytes(state)
    for extra in ((), ("--json",)):
        out = _status(cli, root, *extra)
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr[-3000:]
        assert "drift.json" in out.stdout and "no verdict shown" in out.stdout, out.stdout[-2000:]
        assert "\x1b" not in out.stdout


def test_a_samples_index_of_800000_lines_is_read_in_bounded_memory(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "root"
    folder = root / "samples"
    folder.mkdir(parents=True)
    (folder / "20240101T000000-1.jpg").write_bytes(JPEG)
    (folder / "samples.jsonl").write_bytes(_lines(_entry(1)) * 800_000)
    for args in (("device", "status", "--root", root, "--json"), ("device", "samples", "export", "--root", root)):
        r = peak_rss([cli.python, "-m", "edgevision", *map(str, args)], cli.env, tmp_path, term_after=60)
        assert r["code"] == 0 and not r["terminated"], r["stderr"][-2000:]
        assert r["peak_rss_mb"] < LIMIT_MB, (args, r["peak_rss_mb"])
    status = json.loads(_status(cli, root, "--json").stdout)
    assert status["samples"]["count"] == 1  # one file named 800,000 times is one sample


def test_export_sends_no_file_through_a_planted_link_and_streams_a_huge_one(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "root"
    folder = root / "samples"
    folder.mkdir(parents=True)
    private = tmp_path / "id_ed25519"
    private.write_text(SECRET)
    private.chmod(0o600)
    os.symlink(private, folder / "20240101T000000-1.jpg")
    os.mkfifo(folder / "20240101T000000-2.jpg")
    with open(folder / "20240101T000000-3.jpg", "wb") as fh:
        fh.truncate(700 << 20)  # sparse: over the image limit, never read
    (folder / "20240101T000000-4.jpg").write_bytes(JPEG)
    (folder / "samples.jsonl").write_bytes(_lines(*[_entry(i) for i in (1, 2, 3, 4)]))
    r = peak_rss([cli.python, "-m", "edgevision", "device", "samples", "export", "--root", str(root)], cli.env,
                 tmp_path, term_after=30)
    assert r["code"] == 0 and not r["terminated"] and r["peak_rss_mb"] < LIMIT_MB, (r["peak_rss_mb"], r["stderr"])
    out = subprocess.run([cli.python, "-m", "edgevision", "device", "samples", "export", "--root", str(root)],
                         capture_output=True, timeout=30, env=cli.env)
    assert SECRET.encode() not in out.stdout
    with tarfile.open(fileobj=io.BytesIO(out.stdout), mode="r|") as tar:
        names = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    assert sorted(names) == ["20240101T000000-4.jpg", "samples.jsonl"] and names["20240101T000000-4.jpg"] == JPEG


def test_reference_profiles_nested_deep_or_special_are_one_line(cli: Cli, models, tmp_path: Path) -> None:
    from edgevision.model.profile_signals import PROFILE_FILE
    from edgevision.model.tflite_file import associated_files, embed

    data = models.int8.read_bytes()
    deep = b'{"format": "edgevision-profile/1", "signals": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    model = tmp_path / "deep.tflite"
    model.write_bytes(embed(data, {}, {**associated_files(data), PROFILE_FILE: deep}))
    images = models.data / "test" / "star"
    one_error(cli("run", model, "--source", images, "--max-frames", "2", "--quiet", timeout=60),
               "edgevision_profile.json", "nested more than")
    fifo = tmp_path / "profile.json"
    os.mkfifo(fifo)
    one_error(cli("run", models.int8, "--source", images, "--max-frames", "2", "--quiet", "--drift-profile", fifo,
                   timeout=30), "FIFO")
    flat = tmp_path / "flat.json"
    flat.write_bytes(b"[" * 200_000)
    one_error(cli("run", models.int8, "--source", images, "--max-frames", "2", "--quiet", "--drift-profile", flat,
                   timeout=30), "nested more than")
    token = tmp_path / "token"
    os.mkfifo(token)
    one_error(cli("run", models.int8, "--source", images, "--max-frames", "2", "--metrics", "0",
                   "--metrics-token-file", token, timeout=30), "not a regular file")
