"""Fingerprint and field conditions read from a fake /proc + /sys tree of a Raspberry Pi 4 with a Coral."""

from __future__ import annotations

from pathlib import Path

from edgevision.bench import conditions, fingerprint

PI4_CPUINFO = "".join(f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
                      "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU part\t: 0xd08\n\n" for i in range(4))


def fake_pi(root: Path, throttled: str = "0x0", temp_mc: int = 52000, usb_speed: str = "5000") -> Path:
    files = {
        "proc/device-tree/model": "Raspberry Pi 4 Model B Rev 1.4\x00",
        "proc/cpuinfo": PI4_CPUINFO,
        "proc/meminfo": "MemTotal:        3884376 kB\nMemFree:  100 kB\n",
        "proc/loadavg": "0.12 0.30 0.25 1/180 999\n",
        "etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n',
        "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq": "1800000\n",
        "sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq": "1500000\n",
        "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor": "ondemand\n",
        "sys/class/thermal/thermal_zone0/type": "cpu-thermal\n",
        "sys/class/thermal/thermal_zone0/temp": f"{temp_mc}\n",
        "sys/devices/platform/soc/soc:firmware/get_throttled": f"{throttled}\n",
        "sys/bus/usb/devices/2-1/idVendor": "18d1\n",
        "sys/bus/usb/devices/2-1/idProduct": "9302\n",
        "sys/bus/usb/devices/2-1/speed": f"{usb_speed}\n",
        "sys/bus/usb/devices/1-1/idVendor": "2109\n",
        "sys/bus/usb/devices/1-1/idProduct": "3431\n",
    }
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_pi4_fingerprint(tmp_path: Path) -> None:
    root = fake_pi(tmp_path)
    fp = fingerprint.collect("tflite-runtime", "2.14.0", name="kitchen", root=root)
    assert fp.board == "Raspberry Pi 4 Model B Rev 1.4"
    assert fp.cpu == "ARM Cortex-A72" and fp.cores == 4 and fp.memory_mb == 3793
    assert fp.arch == "aarch64" and fp.max_mhz == 1800.0 and fp.isa == ("asimd",)
    assert fp.os == "Debian GNU/Linux 12 (bookworm)"
    other = fingerprint.collect("ai-edge-litert", "2.3.0", name="kitchen", root=root)
    assert other.id != fp.id and other.device_id == fp.device_id  # same board, other interpreter


def test_conditions_snapshot_and_coral_link(tmp_path: Path) -> None:
    root = fake_pi(tmp_path, throttled="0x50005", temp_mc=81500, usb_speed="480")
    snap = conditions.snapshot(root)
    assert snap.temp_c == 81.5 and snap.governor == "ondemand" and snap.cur_mhz == 1500.0 and snap.load1 == 0.12
    assert snap.throttled == 0x50005
    assert conditions.describe_throttled(0x50005) == ["under-voltage now", "throttled now", "under-voltage occurred",
                                                      "throttling occurred"]
    (tpu,) = conditions.edgetpus(root)
    assert tpu.bus == "usb" and tpu.speed_mbps == 480 and tpu.usb2


def test_missing_sysfs_degrades_to_none(tmp_path: Path) -> None:
    snap = conditions.snapshot(tmp_path)
    assert snap == conditions.Snapshot(None, None, None, None, None, None)
    assert conditions.edgetpus(tmp_path) == []
    fp = fingerprint.collect("ai-edge-litert", "2.3.0", root=tmp_path)
    assert fp.board == "" and fp.memory_mb == 0


def test_cpu_meter_sees_other_processes(tmp_path: Path) -> None:
    """Machine-wide busy ticks minus our own CPU time: a fake /proc/stat that jumps by 2 s of busy time."""
    stat = tmp_path / "proc" / "stat"
    stat.parent.mkdir(parents=True)
    stat.write_text("cpu  1000 0 1000 50000 0 0 0 0 0 0\n")
    import os
    import time

    meter = conditions.CpuMeter(tmp_path)
    with meter:
        time.sleep(0.3)
        busy_ticks = int(0.3 * (os.cpu_count() or 1) * os.sysconf("SC_CLK_TCK"))  # every core busy for 0.3 s
        stat.write_text(f"cpu  {1000 + busy_ticks} 0 1000 50000 0 0 0 0 0 0\n")
    assert meter.others_fraction is not None and meter.others_fraction > 0.5
