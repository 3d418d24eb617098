"""Sanity flags: impossible speed, noise, busy machine, throttling, USB2 Coral, int8 slower than float."""

from __future__ import annotations

from edgevision.bench import sanity
from tests.bench.docs import make_doc


def codes(doc) -> set[str]:  # type: ignore[no-untyped-def]
    return {f["code"] for f in sanity.check(doc)}


def test_plausible_result_has_no_flags() -> None:
    assert codes(make_doc(25.0)) == set()


def test_faster_than_the_device_peak_is_a_measurement_bug() -> None:
    # 300 M MACs on 4 Cortex-A72 cores at 1.8 GHz: at most 4*1.8e9*128 MAC/s -> >= 0.33 ms
    doc = make_doc(0.05)
    assert "impossible" in codes(doc)
    assert "impossible" not in codes(make_doc(0.5))
    assert "impossible" not in codes(make_doc(0.05, macs=None))  # unknown MACs: no claim


def test_noisy_busy_throttled_hot_governor_usb2() -> None:
    assert "noisy" in codes(make_doc(20.0, spread=1.6))
    busy = make_doc()
    busy["metrics"]["others_cpu"] = 0.6
    assert "busy" in codes(busy)
    hot = make_doc()
    hot["conditions"]["after"].update(temp_c=83.0, throttled=0x50005, governor="powersave")
    assert {"hot", "throttled", "governor"} <= codes(hot)
    past_only = make_doc()
    past_only["conditions"]["before"]["throttled"] = past_only["conditions"]["after"]["throttled"] = 0x50000
    assert "throttled" not in codes(past_only)  # throttled before we started, not during our runs
    usb = make_doc(delegate="edgetpu:usb")
    usb["conditions"]["edgetpu"] = {"bus": "usb", "path": "2-1", "speed_mbps": 480}
    assert "usb2" in codes(usb)


def test_int8_slower_than_float_pairs_by_architecture() -> None:
    i8, f32 = make_doc(30.0, quant="int8"), make_doc(20.0, quant="float32")
    other_net = make_doc(10.0, quant="float32", macs=100_000_000)
    other_threads = make_doc(10.0, quant="float32", threads=1)
    pairs = sanity.int8_slower([i8, f32, other_net, other_threads])
    assert pairs == [(i8, f32)]
    assert sanity.int8_slower([make_doc(10.0, quant="int8"), f32]) == []
