"""The samples sink: which frames it keeps, how the folder stays bounded, and what export and clear do with it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from edgevision.pipeline.drift_event import DriftEvent
from edgevision.pipeline.events import LabelEvent
from edgevision.runtime.frames import Frame
from edgevision.runtime.postprocess import Prediction
from edgevision.sinks.sample_store import INDEX, Budget, clear, read_index, summary
from edgevision.sinks.samples import SampleSink
from tests.device.conftest import env


def _event(i: int, t: float, first: float, second: float = 0.0) -> LabelEvent:
    top = (Prediction("cat", first, 0), Prediction("dog", second, 1))
    return LabelEvent.classified(i, "cam", top, t - 0.01, t, {"infer": 1.0})


def _frame(i: int, seed: int) -> Frame:
    rng = np.random.default_rng(seed)
    return Frame(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), i, "cam", 0.0, 0.0, "BGR")


def _keep(sink: SampleSink, events: list[tuple[LabelEvent, Frame]]) -> None:
    for event, frame in events:
        sink.emit(event, frame)
        assert sink.idle(10)


def test_keeps_unsure_frames_once_per_spacing_and_never_a_confident_one(tmp_path: Path) -> None:
    sink = SampleSink(tmp_path / "s", Budget(count=100, mb=10), every_s=5.0, below=0.5, margin=0.1)
    _keep(sink, [
        (_event(0, 100.0, 0.95, 0.01), _frame(0, 0)),   # confident: no
        (_event(1, 101.0, 0.40, 0.30), _frame(1, 1)),   # low confidence: kept
        (_event(2, 102.0, 0.30, 0.20), _frame(2, 2)),   # low, but within 5 s of the last kept: no
        (_event(3, 107.0, 0.55, 0.50), _frame(3, 3)),   # near-tie: kept
        (_event(4, 113.0, 0.90, 0.05), _frame(4, 4)),   # confident: no
    ])
    sink.drift(DriftEvent(4, "cam", 113.0, "drifting", True, {}, ("brightness",), 50, 1.0))
    _keep(sink, [(_event(5, 120.0, 0.90, 0.05), _frame(5, 5))])  # confident, but the camera drifts: kept
    sink.close()
    entries = read_index(tmp_path / "s")
    assert [(e["frame"], e["reason"], e["drift"]) for e in entries] == [
        (1, "low_confidence", "ok"), (3, "near_tie", "ok"), (5, "drift", "drifting")]
    assert all((tmp_path / "s" / e["file"]).stat().st_size == e["bytes"] for e in entries)
    assert entries[0]["top_k"][1] == {"label": "dog", "score": 0.3, "index": 1} and entries[0]["label"] == "cat"


def test_a_static_scene_is_kept_once_not_every_time(tmp_path: Path) -> None:
    sink = SampleSink(tmp_path / "s", Budget(count=100, mb=10), every_s=0.0)
    same = _frame(0, 42)
    _keep(sink, [(_event(i, 100.0 + i, 0.2), same) for i in range(50)])
    _keep(sink, [(_event(99, 200.0, 0.2), _frame(99, 7))])  # a different scene is kept again
    sink.close()
    assert [e["frame"] for e in read_index(tmp_path / "s")] == [0, 99]


def test_the_folder_rotates_within_its_count_and_megabytes(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    sink = SampleSink(folder, Budget(count=10, mb=10), every_s=0.0)
    _keep(sink, [(_event(i, 100.0 + i, 0.2), _frame(i, i)) for i in range(25)])
    sink.close()
    entries = read_index(folder)
    assert 9 <= len(entries) <= 10 and entries[-1]["frame"] == 24, [e["frame"] for e in entries]
    assert [e["frame"] for e in entries] == sorted(e["frame"] for e in entries)  # the oldest went first
    assert len(list(folder.glob("*.jpg"))) == len(entries)
    one = entries[0]["bytes"]
    small = SampleSink(tmp_path / "m", Budget(count=1000, mb=3.5 * one / 1024**2), every_s=0.0)
    _keep(small, [(_event(i, 100.0 + i, 0.2), _frame(i, 100 + i)) for i in range(12)])
    small.close()
    assert sum(e["bytes"] for e in read_index(tmp_path / "m")) <= 3.5 * one * 1.1
    assert summary(folder)["count"] == len(entries)


def test_a_hostile_or_torn_index_only_yields_entries_with_plain_existing_files(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    sink = SampleSink(folder, Budget(), every_s=0.0)
    _keep(sink, [(_event(1, 100.0, 0.2), _frame(1, 1))])
    sink.close()
    good = read_index(folder)[0]
    (tmp_path / "secret.jpg").write_bytes(b"x")
    with open(folder / INDEX, "a") as fh:
        fh.write(json.dumps({**good, "file": "../secret.jpg"}) + "\n")
        fh.write(json.dumps({**good, "file": "20260101T000000-5.jpg"}) + "\n")  # no such file
        fh.write(json.dumps({**good, "bytes": "many"}) + "\n")
        fh.write('{"file": "20260101T000000-6.jpg", "t": 1, "by')  # cut mid-line
    assert read_index(folder) == [good]


def test_export_streams_index_and_files_and_clear_keeps_newer_samples(tmp_path: Path) -> None:
    root = tmp_path / "root"
    folder = root / "samples"
    sink = SampleSink(folder, Budget(), every_s=0.0)
    _keep(sink, [(_event(i, 100.0 + i, 0.2), _frame(i, i)) for i in range(4)])
    sink.close()
    out = subprocess.run([sys.executable, "-m", "edgevision", "device", "samples", "export", "--root", str(root)],
                         capture_output=True, timeout=60, env=env())
    assert out.returncode == 0, out.stderr
    with tarfile.open(fileobj=io.BytesIO(out.stdout), mode="r|") as tar:
        names = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    entries = [json.loads(line) for line in names.pop(INDEX).splitlines()]
    assert sorted(names) == sorted(e["file"] for e in entries) and len(entries) == 4
    assert all(names[e["file"]] == (folder / e["file"]).read_bytes() for e in entries)
    assert clear(folder, upto=101.0) == 2
    assert [e["frame"] for e in read_index(folder)] == [2, 3]
    done = subprocess.run([sys.executable, "-m", "edgevision", "device", "samples", "clear", "--root", str(root)],
                          capture_output=True, text=True, timeout=60, env=env())
    assert done.returncode == 0 and "2 samples deleted" in done.stderr
    assert read_index(folder) == [] and not list(folder.glob("*.jpg"))
    empty = subprocess.run([sys.executable, "-m", "edgevision", "device", "samples", "export", "--root",
                            str(tmp_path / "nothing")], capture_output=True, timeout=60, env=env())
    with tarfile.open(fileobj=io.BytesIO(empty.stdout), mode="r|") as tar:
        assert [m.name for m in tar] == [INDEX]


def test_a_pulled_stream_is_checked_member_by_member_and_labels_become_plain_folder_names(tmp_path: Path) -> None:
    from edgevision.deploy.samples_pull import _unpack, folder_name
    from edgevision.errors import CheckFailed
    from edgevision.limits import Limits

    def stream(*members: tuple[str, bytes], link: str | None = None) -> io.BytesIO:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            if link:
                info = tarfile.TarInfo(link)
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
        buf.seek(0)
        return buf

    entry = {"file": "20260101T000000-1.jpg", "t": 1.0, "bytes": 3, "label": "../../etc"}
    index = (json.dumps(entry) + "\n").encode()
    out = tmp_path / "out"
    out.mkdir()
    got, written, skipped = _unpack(stream((INDEX, index), ("20260101T000000-1.jpg", b"jpg")), out, "dev", Limits())
    assert [(e["file"], e["label"]) for e in got] == [(entry["file"], entry["label"])] and skipped == 0
    assert [w[0] for w in written] == ["etc/20260101T000000-1.jpg"] and folder_name(entry["label"]) == "etc"
    assert (out / "etc" / entry["file"]).read_bytes() == b"jpg"
    assert folder_name("") == folder_name("...") == "_unlabelled"
    assert folder_name("caf\u00e9 au lait") == "caf\u00e9 au lait"
    assert folder_name("a\x1b[31mb/c") == "a[31mbc"
    small = Limits(image_bytes=1024)
    for bad, message in [(stream(("../escape.jpg", b"x")), "does not begin with its index"),
                         (stream((INDEX, index), ("../escape.jpg", b"x")), "unexpected name"),
                         (stream((INDEX, index), link="20260101T000000-2.jpg"), "not a plain file"),
                         (stream((INDEX, index), ("20260101T000000-1.jpg", b"x" * 2048)), "at most 1,024"),
                         (io.BytesIO(b"not a tar at all" * 100), "corrupt or truncated")]:
        with pytest.raises(CheckFailed, match=message):
            _unpack(bad, tmp_path / "bad", "dev", small)
    # an index line that is not one (garbage, a time of 1e300) leaves its file out, said as skipped
    odd = b"garbage\n" + json.dumps({**entry, "file": "20260101T000000-2.jpg", "t": 1e300}).encode() + b"\n"
    got, written, skipped = _unpack(stream((INDEX, odd), ("20260101T000000-2.jpg", b"x")), tmp_path / "o2", "dev",
                                    Limits())
    assert got == [] and written == [] and skipped == 1
