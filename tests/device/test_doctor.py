"""`edgevision doctor`: reference images through the real runtime, live-frame checks, pass/fail exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgevision.doctor.frame_checks import check_arrays
from tests.fixtures.tflite_edit import with_custom_op


def _status(checks: list[dict], name: str) -> str:
    return next(c["status"] for c in checks if c["name"] == name)


def test_frame_array_checks_name_the_classic_mistakes() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    ok = check_arrays([rgb, rgb[::-1].copy(), rgb[:, ::-1].copy()])
    assert [c.status for c in ok] == ["pass", "pass", "pass"]
    xrgb = np.dstack([rgb, np.full((48, 64), 255, np.uint8)])
    (c,) = check_arrays([xrgb])
    assert c.status == "fail" and "XRGB8888" in c.detail and "2::-1" in c.detail
    (c,) = check_arrays([rng.integers(0, 256, (72, 64), dtype=np.uint8)])   # a whole YUV420 buffer
    assert c.status == "fail" and "Y plane" in c.detail and "YUV420" in c.detail
    gray = np.repeat(rgb[..., :1], 3, axis=2)
    assert {c.name: c.status for c in check_arrays([gray])}["color"] == "warn"
    black = np.zeros((48, 64, 3), np.uint8)
    checks = {c.name: c for c in check_arrays([black, black, black])}
    assert checks["exposure"].status == "warn" and "black" in checks["exposure"].detail
    assert checks["motion"].status == "warn" and "identical" in checks["motion"].detail
    (c,) = check_arrays([rgb.astype(np.float32) / 255])
    assert c.status == "fail" and "float32" in c.detail



def test_doctor_passes_with_a_folder_source(cli, models) -> None:
    r = cli("doctor", models.int8, "--source", models.data / "test", "--frames", "12", "--json", timeout=120)
    assert r.returncode == 0, r.stderr + r.stdout
    rep = json.loads(r.stdout)
    assert rep["passed"] and rep["runtime"]["runtime"] in ("ai-edge-litert", "tflite-runtime")
    assert rep["runtime"]["delegate"] == "cpu" and rep["runtime"]["normalization_from"] == "model card"
    refs = [c for c in rep["checks"] if c["name"].startswith("reference ")]
    assert len(refs) == 3 and all(c["status"] == "pass" for c in refs)
    assert _status(rep["checks"], "frame format") == "pass" and _status(rep["checks"], "color order") == "pass"
    assert rep["source"]["frames"] == 12
    human = cli("doctor", models.int8, timeout=120)   # the one-screen table
    assert human.returncode == 0 and "PASS" in human.stdout and "reference_0.png" in human.stdout


def test_doctor_live_stream_reports_frame_rate_and_age(cli, models, mjpeg_server) -> None:
    server = mjpeg_server(models.data / "test", fps=20).start()
    r = cli("doctor", models.int8, "--source", server.url, "--frames", "15", "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["source"]["kind"] == "stream" and rep["source"]["live"]
    assert 10 <= rep["source"]["measured_fps"] <= 30          # the server sends 20 FPS
    assert 0 <= rep["frame_age_ms"]["p50"] < 1000


def test_doctor_names_a_normalization_override_as_the_cause(cli, models) -> None:
    r = cli("doctor", models.float32, "--norm", "symmetric", "--json", timeout=120)
    assert r.returncode == 1
    rep = json.loads(r.stdout)
    refs = [c for c in rep["checks"] if c["name"].startswith("reference ")]
    assert refs and all(c["status"] == "fail" for c in refs)
    assert all("reproduce with --norm raw" in c["detail"] for c in refs), refs
    assert "error: doctor:" in r.stderr and "check(s) failed" in r.stderr


def test_doctor_fails_when_the_device_disagrees_with_the_desktop(cli, models, tmp_path: Path) -> None:
    from edgevision.model.artifact import CARD_FILE
    from edgevision.model.tflite_file import associated_files, embed

    data = models.int8.read_bytes()
    files = associated_files(data)
    card = json.loads(files[CARD_FILE])
    card["references"][1]["scores"] = card["references"][1]["scores"][::-1]  # "recorded" on another machine
    files[CARD_FILE] = json.dumps(card).encode()
    bad = tmp_path / "tampered.tflite"
    bad.write_bytes(embed(data, {}, files))
    r = cli("doctor", bad, "--json", timeout=120)
    assert r.returncode == 1
    checks = json.loads(r.stdout)["checks"]
    assert [c["status"] for c in checks if c["name"].startswith("reference ")] == ["pass", "fail", "pass"]


def test_edgetpu_model_without_a_tpu_is_one_clear_error(cli, models, tmp_path: Path) -> None:
    tpu = tmp_path / "model_edgetpu.tflite"
    tpu.write_bytes(with_custom_op(models.int8.read_bytes(), "edgetpu-custom-op"))  # edgetpu_compiler's op
    for cmd in (["doctor", tpu], ["run", tpu, "--source", models.data / "test"]):
        r = cli(*cmd, timeout=60)
        assert r.returncode == 2 and "compiled for the Edge TPU" in r.stderr and "Traceback" not in r.stderr
    r = cli("run", models.int8, "--source", models.data / "test", "--delegate", "edgetpu:usb:0", timeout=60)
    assert r.returncode == 2 and "Edge TPU runtime not found (libedgetpu.so.1" in r.stderr
    r = cli("run", models.int8, "--source", models.data / "test", "--delegate", "edgetpu:usb:x", timeout=60)
    assert r.returncode == 2 and "usb:0" in r.stderr
