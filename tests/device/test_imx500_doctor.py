"""``edgevision doctor`` on the AI Camera path. Faked only at the hardware seam: the Pi's file system root
(firmware files, the V4L2 sub-device tree), PATH lookup and the picamera2 import (Imx500Host), and
picamera2's IMX500/camera objects for live frames (fake_imx500.py). The .rpk is laid out as
imx500-package writes it, its cpio part written by GNU cpio; parsing, checks and JSON are real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgevision.errors import BadInput
from edgevision.imx500.rpk import check_identity, read_network_info, sensor_norm
from edgevision.imx500.sensor_doctor import Imx500Host, diagnose_imx500, is_imx500_target, resolve_target
from edgevision.imx500.sensor_source import Imx500Source
from tests.device.fake_imx500 import FakeCamera, FakeIMX500
from tests.device.imx500_files import network_info, pi_root, write_rpk
from tests.device.test_imx500_run import md, release

NETWORK_NORM = {"where": "network", "mean": [0.0], "std": [255.0], "sensor": {"gain": [1.0], "offset": [0.0]}}


def good_host(tmp_path: Path) -> Imx500Host:
    return Imx500Host(root=pi_root(tmp_path / "root"), which=lambda name: f"/usr/bin/{name}",
                      import_picamera2=lambda: "0.3.30")


def good_release(tmp_path: Path, **info: str) -> Path:
    folder = tmp_path / "release"
    folder.mkdir()
    rpk = release(folder, normalization=NETWORK_NORM)
    write_rpk(rpk, network_info(**info))
    return folder


def by_name(report: object) -> dict[str, object]:
    return {c.name: c for c in report.checks}  # type: ignore[attr-defined]


def test_rpk_network_info_is_read_as_imx500_package_lays_it_out(tmp_path: Path) -> None:
    for fmt in ("newc", "odc"):
        rpk = write_rpk(tmp_path / f"{fmt}.rpk", network_info(64, 48, inputTensorNorm_K03="0x1F80"), fmt=fmt)
        info = read_network_info(rpk)
        assert info.input_size == (64, 48) and info.input_format == "RGB"
        assert sensor_norm(info) == {"gain": [1.0, 1.0, 1.0], "offset": [-8.0, 0.0, 0.0]}  # 13-bit signed, 1/16
        assert "inputTensorNorm_K03=0x1f80 (expected 0x0000)" in (check_identity(info) or "")
    assert check_identity(read_network_info(write_rpk(tmp_path / "id.rpk", network_info()))) is None
    with pytest.raises(BadInput, match=r"carries no network_info\.txt"):
        read_network_info(write_rpk(tmp_path / "none.rpk", None))
    (tmp_path / "bad.rpk").write_bytes(b"PK\x03\x04 a zip, not an rpk")
    with pytest.raises(BadInput, match="not an IMX500 network"):
        read_network_info(tmp_path / "bad.rpk")
    cut = (tmp_path / "id.rpk").read_bytes()[:150]
    (tmp_path / "cut.rpk").write_bytes(cut)
    with pytest.raises(BadInput, match="no 3695 footer"):
        read_network_info(tmp_path / "cut.rpk")


def test_everything_in_place_passes(tmp_path: Path) -> None:
    report = diagnose_imx500(resolve_target(good_release(tmp_path)), good_host(tmp_path))
    checks = by_name(report)
    assert report.passed, [c.to_dict() for c in report.checks]
    assert list(checks) == ["picamera2", "imx500 firmware", "imx500-package", "network", "sensor input", "labels",
                            "camera"]
    assert "/lib/firmware/imx500_loader.fpk" in checks["imx500 firmware"].detail  # type: ignore[attr-defined]
    assert "/dev/v4l-subdev1" in checks["camera"].detail  # type: ignore[attr-defined]
    assert "raw 0..255 RGB" in checks["sensor input"].detail  # type: ignore[attr-defined]
    d = report.to_dict()
    assert d["passed"] is True and d["runtime"]["runtime"] == "imx500" and len(d["checks"]) == 7


def test_each_missing_piece_is_one_failed_line_with_its_fix(tmp_path: Path) -> None:
    folder = good_release(tmp_path)
    bare = Imx500Host(root=pi_root(tmp_path / "bare", firmware=False, camera=False), which=lambda name: None,
                      import_picamera2=lambda: (_ for _ in ()).throw(ImportError("No module named 'picamera2'")))
    report = diagnose_imx500(resolve_target(folder), bare)
    checks = by_name(report)
    assert not report.passed
    fails = {n: c.detail for n, c in checks.items() if c.status == "fail"}  # type: ignore[attr-defined]
    assert set(fails) == {"picamera2", "imx500 firmware", "camera"}
    assert "python3-picamera2" in fails["picamera2"] and "imx500-firmware" in fails["imx500 firmware"]
    assert "rpicam-hello --list-cameras" in fails["camera"]
    assert checks["imx500-package"].status == "warn"  # type: ignore[attr-defined]  # the network is packaged


def test_unpackaged_convert_output_names_the_packaging_step(tmp_path: Path) -> None:
    folder = good_release(tmp_path)
    (folder / "network.rpk").unlink()
    (folder / "packerOut.zip").write_bytes(b"PK")
    host = Imx500Host(root=pi_root(tmp_path / "root"), which=lambda name: None, import_picamera2=lambda: "0.3")
    checks = by_name(diagnose_imx500(resolve_target(folder / "packerOut.zip"), host))
    assert checks["network"].status == "fail"  # type: ignore[attr-defined]
    assert f"imx500-package -i {folder / 'packerOut.zip'}" in checks["network"].detail  # type: ignore[attr-defined]
    assert checks["imx500-package"].status == "fail"  # type: ignore[attr-defined]
    assert "imx500-tools" in checks["imx500-package"].detail  # type: ignore[attr-defined]


def test_sensor_input_that_does_not_match_the_conversion_fails(tmp_path: Path) -> None:
    host = good_host(tmp_path)
    folder = good_release(tmp_path, inputTensorNorm_K00="0x0200")
    detail = by_name(diagnose_imx500(resolve_target(folder), host))["sensor input"]
    assert detail.status == "fail" and "inputTensorNorm_K00=0x0200" in detail.detail  # type: ignore[attr-defined]
    write_rpk(folder / "network.rpk", network_info(width=64, height=64))
    detail = by_name(diagnose_imx500(resolve_target(folder), host))["sensor input"]
    assert detail.status == "fail" and "takes 64x64 but imx500.json says 32x32" in detail.detail  # type: ignore
    # a card from before the normalization became the network's first layer: the sensor would not apply it
    old = json.loads((folder / "imx500.json").read_text())
    old["target"]["normalization"] = {"where": "sensor", "mean": [0.0], "std": [255.0]}
    (folder / "imx500.json").write_text(json.dumps(old))
    write_rpk(folder / "network.rpk", network_info())
    detail = by_name(diagnose_imx500(resolve_target(folder), host))["sensor input"]
    assert detail.status == "fail" and "convert again" in detail.detail  # type: ignore[attr-defined]


def test_live_frames_report_outputs_and_the_sensor_time(tmp_path: Path) -> None:
    folder = good_release(tmp_path)
    cam = FakeCamera([md([0.1, 0.8, 0.1], dnn_ms=4.5)])
    src = Imx500Source(folder / "network.rpk", imx500_factory=FakeIMX500, camera_factory=lambda imx: cam)
    report = diagnose_imx500(resolve_target(folder), good_host(tmp_path), source=src, frames=5, timeout_s=10)
    checks = by_name(report)
    assert report.passed, [c.to_dict() for c in report.checks]
    assert "last frame: cross 0.80" in checks["outputs"].detail  # type: ignore[attr-defined]
    assert "DNN 4.50 ms on the sensor" in checks["sensor time"].detail  # type: ignore[attr-defined]
    assert report.source is not None and report.source["frames"] == 5
    bad = Imx500Host(root=tmp_path / "root", which=lambda n: None, import_picamera2=lambda: "0.3")
    (tmp_path / "root/lib/firmware/imx500_main.fpk").unlink()
    report = diagnose_imx500(resolve_target(folder), bad, source=src, frames=5)
    assert by_name(report)["live frames"].status == "skip"  # type: ignore[attr-defined]


def test_cli_json_on_a_machine_without_the_camera(tmp_path: Path, cli) -> None:
    folder = good_release(tmp_path)
    assert is_imx500_target(folder, None) and is_imx500_target(tmp_path / "x.tflite", "imx500")
    r = cli("doctor", folder, "--json", timeout=120)
    assert r.returncode == 1, r.stderr
    d = json.loads(r.stdout)
    names = {c["name"]: c["status"] for c in d["checks"]}
    assert names["network"] == "pass" and names["sensor input"] == "pass" and names["labels"] == "pass"
    assert names["camera"] == "fail" and d["passed"] is False  # this machine has no AI Camera
    assert r.stderr.strip().startswith("error: doctor:") and r.stderr.strip().count("\n") == 0
    r = cli("doctor", tmp_path / "nothing.rpk", timeout=120)
    assert r.returncode == 2 and "IMX500 network not found" in r.stderr


@pytest.mark.parametrize("case", ["good", "no normalization", "sensor normalizes", "size", "gain"])
def test_doctor_and_deploy_judge_a_packaged_network_by_one_rule(tmp_path: Path, case: str) -> None:
    from edgevision.errors import CheckFailed
    from edgevision.imx500.rpk_release import check_network

    folder = good_release(tmp_path, **({"inputTensorNorm_K11": "0x0300"} if case == "gain" else {}))
    card = json.loads((folder / "imx500.json").read_text())
    if case == "no normalization":  # a hand-written or older card: deploy let it through, doctor did not
        del card["target"]["normalization"]
    elif case == "sensor normalizes":
        card["target"]["normalization"] = {"where": "sensor", "mean": [0.0], "std": [255.0]}
    elif case == "size":
        card["preprocess"]["width"] = 48
    (folder / "imx500.json").write_text(json.dumps(card))
    doctor = by_name(diagnose_imx500(resolve_target(folder), good_host(tmp_path)))["sensor input"]
    try:
        check_network(folder / "network.rpk", folder)
        deploy = None
    except CheckFailed as exc:
        deploy = str(exc)
    assert (doctor.status == "pass") == (deploy is None) == (case == "good"), (doctor, deploy)  # type: ignore
    if deploy is not None:
        assert doctor.detail.split("; fix: ")[0] in deploy  # type: ignore[attr-defined]
