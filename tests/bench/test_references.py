"""Published figures in the device profiles: well-formed, cited, and matched only to the right result."""

from __future__ import annotations

from edgevision.bench.published import load_references, match, matching_profile
from tests.bench.docs import PI4, make_doc


def test_every_shipped_reference_is_cited_and_sane() -> None:
    refs = load_references()
    assert {r.profile for r in refs} >= {"rpi4", "rpi5", "coral-usb", "coral-devboard", "x86-64"}
    for r in refs:
        assert r.source.startswith("https://") and r.files and 0 < r.latency_ms < 10_000, r


def test_known_model_on_known_board_matches() -> None:
    refs = load_references()
    ref = match(make_doc(24.0), refs)
    assert ref is not None and ref.profile == "rpi4" and ref.latency_ms == 22.0
    assert "Qengineering" in ref.source


def test_no_match_for_other_board_size_or_delegate() -> None:
    refs = load_references()
    laptop = {**PI4, "board": "LENOVO 20XW", "cpu": "Intel(R) Core(TM) i7-1185G7", "arch": "x86_64"}
    assert match(make_doc(device=laptop), refs) is None
    assert match(make_doc(size=160), refs) is None
    assert match(make_doc(model="my_mobilenet_v2.tflite"), refs) is None
    assert match(make_doc(delegate="edgetpu:usb"), refs) is None


def test_edge_tpu_reference_matches_by_bus() -> None:
    refs = load_references()
    doc = make_doc(2.9, model="mobilenet_v2_1.0_224_quant_edgetpu.tflite", delegate="edgetpu:usb", macs=None)
    doc["conditions"]["edgetpu"] = {"bus": "usb", "path": "2-1", "speed_mbps": 5000}
    ref = match(doc, refs)
    assert ref is not None and ref.profile == "coral-usb" and ref.latency_ms == 2.6


def test_profile_of_a_device() -> None:
    assert matching_profile(PI4, "cpu") == "rpi4"
    assert matching_profile({"board": "", "arch": "x86_64"}, "cpu") == "x86-64"
    assert matching_profile({"board": "", "arch": "aarch64"}, "edgetpu:usb") == "coral-usb"
    assert matching_profile({"board": "Raspberry Pi 5 Model B Rev 1.0", "arch": "aarch64"}, "cpu") == "rpi5"
