"""A result measured under qemu-user says so, and is never set beside a published figure."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from edgevision.bench import fingerprint
from edgevision.bench.comparison import compare
from edgevision.bench.fingerprint import Fingerprint, emulation
from edgevision.bench.published import load_references
from edgevision.bench.record import device_label
from edgevision.bench.sanity import check

X86_CPUINFO = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu avx2 fma\n"
A72_CPUINFO = "processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd\nCPU architecture: 8\nCPU part\t: 0xd08\n"


def _root(tmp_path: Path, cpuinfo: str) -> Path:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "cpuinfo").write_text(cpuinfo)
    return tmp_path


@pytest.mark.parametrize(("machine", "cpuinfo", "expected"), [
    ("aarch64", X86_CPUINFO, "qemu-user"),   # an arm64 userland on an x86 host
    ("armv7l", X86_CPUINFO, "qemu-user"),
    ("aarch64", A72_CPUINFO, ""),            # a real Pi 4
    ("armv7l", A72_CPUINFO, ""),             # a 32-bit userland on a 64-bit Pi kernel
    ("x86_64", X86_CPUINFO, ""),
])
def test_emulation_is_told_by_the_cpu_the_userland_sees(tmp_path, monkeypatch, machine, cpuinfo, expected) -> None:
    monkeypatch.setattr(fingerprint.platform, "machine", lambda: machine)
    assert emulation(_root(tmp_path, cpuinfo)) == expected


def _fp(**over) -> Fingerprint:
    base = dict(name="lab", board="Raspberry Pi 5 Model B Rev 1.0", cpu="AMD EPYC 7B13", cores=2, arch="aarch64",
                memory_mb=1024, max_mhz=2450.0, isa=("avx2",), os="Debian GNU/Linux 12 (bookworm)", kernel="6.1",
                python=platform.python_version(), runtime="ai-edge-litert", runtime_version="2.3.0")
    return Fingerprint(**(base | over))


def test_native_ids_do_not_change_and_emulated_ones_differ() -> None:
    native, emulated = _fp(), _fp(emulated="qemu-user")
    assert "emulated" not in native._identity()  # ids recorded before the field existed stay valid
    assert native.id != emulated.id and native.device_id != emulated.device_id


def _doc(emulated: str) -> dict:
    fp = _fp(emulated=emulated).to_dict()
    return {"id": f"doc-{emulated or 'native'}", "kind": "latency", "created": "2026-01-01T00:00:00", "device": fp,
            "model": {"name": "mobilenet_v2.tflite", "file": "mobilenet_v2.tflite", "input_shape": [1, 300, 300, 3],
                      "quantization": "int8", "sha256": "a" * 64},
            "config": {"threads": 4, "delegate": "cpu", "xnnpack": True},
            "metrics": {"invoke": {"p50": 40.0, "p90": 41.0, "p99": 42.0, "mean": 40.0, "std": 0.5}}}


def test_an_emulated_result_is_flagged_and_not_compared_with_published_figures() -> None:
    refs = load_references()
    native = compare([_doc("")], refs).rows[0]
    assert native.reference is not None and native.reference.profile == "rpi5"
    row = compare([_doc("qemu-user")], refs).rows[0]
    assert row.reference is None and row.ratio is None
    assert "emulated" in [f["code"] for f in check(_doc("qemu-user"))]
    assert "emulated" not in [f["code"] for f in check(_doc(""))]
    assert "aarch64" in device_label(_doc("qemu-user")) and "emulated" in device_label(_doc("qemu-user"))
