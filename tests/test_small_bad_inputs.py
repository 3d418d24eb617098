"""The smaller findings of issue 12, each as the user met it through the CLI."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from tests.deploy.test_bundle import _one_line_error


def _rezip(model: bytes, replace: dict[str, bytes]) -> bytes:
    """``model`` with its associated zip rebuilt, some members replaced."""
    at = model.find(b"PK\x03\x04")
    with zipfile.ZipFile(io.BytesIO(model)) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members.update(replace)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return model[:at] + buf.getvalue()


def _labels_member(model: bytes) -> tuple[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(model)) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".txt"))
        return name, zf.read(name)


def test_damaged_embedded_labels_are_an_error_not_numbers(cli, trained, tmp_path: Path) -> None:
    data = trained.int8.read_bytes()
    name, labels = _labels_member(data)
    at = data.find(labels)
    assert at > 0
    broken = bytearray(data)
    broken[at + 1] ^= 0x20  # the CRC no longer matches: the zip member is damaged
    bad = tmp_path / "damaged.tflite"
    bad.write_bytes(bytes(broken))
    for cmd in (["info", bad], ["run", bad, "--source", trained.data / "test" / "star"]):
        _one_line_error(cli(*cmd), 2, "damaged.tflite")
    odd = tmp_path / "utf8.tflite"
    odd.write_bytes(_rezip(data, {name: labels.replace(b"cross", b"cr\xffss")}))
    out = cli("info", odd)
    _one_line_error(out, 2, "not valid UTF-8")
    assert "\ufffd" not in out.stdout + out.stderr


def test_a_wrong_labels_count_is_refused_by_info_and_bundle_as_by_run(cli, trained, tmp_path: Path) -> None:
    three = tmp_path / "three.txt"
    three.write_text("a\nb\nc\n")
    for cmd in (["info", trained.int8, "--labels", three],
                ["bundle", trained.int8, "--profile", "x86-64", "--labels", three, "--out", tmp_path / "b"],
                ["run", trained.int8, "--labels", three, "--source", trained.data / "test" / "star"]):
        _one_line_error(cli(*cmd), 2, "3 labels but the model")


def test_out_file_with_a_partial_last_line_gets_whole_lines(cli, trained, tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    out.write_text('{"frame": 1}\n{"frame": 2, "lab')  # a writer killed mid-line
    r = cli("run", trained.int8, "--source", trained.data / "test" / "star", "--max-frames", "2", "--no-stdout",
            "--out", out)
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert lines[:2] == ['{"frame": 1}', '{"frame": 2, "lab']  # kept as it was, never glued to
    assert len(lines) == 4 and all(json.loads(ln)["label"] for ln in lines[2:])


def test_truncated_video_is_an_error(cli, trained, tmp_path: Path) -> None:
    import cv2

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (48, 48))
    rng = np.random.default_rng(0)
    for _ in range(40):
        writer.write((rng.random((48, 48, 3)) * 255).astype(np.uint8))
    writer.release()
    whole = cli("run", trained.int8, "--source", video, "--no-stdout")
    assert whole.returncode == 0, whole.stderr
    data = video.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 3])
    r = cli("run", trained.int8, "--source", cut)
    _one_line_error(r, 2, "cut.avi", "video ended after")
    assert r.stdout.strip(), "the frames before the damage were still labelled"
