"""Result documents as another machine would write them (for store, sanity and report tests)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from edgevision.bench.latency import LatencyStats

PI4 = {"name": "kitchen", "board": "Raspberry Pi 4 Model B Rev 1.4", "cpu": "ARM Cortex-A72", "cores": 4,
       "arch": "aarch64", "memory_mb": 3793, "max_mhz": 1800.0, "isa": ["asimd"],
       "os": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.6.51+rpt-rpi-v8", "python": "3.11.2",
       "runtime": "tflite-runtime", "runtime_version": "2.14.0", "id": "pi4fingerprint01",
       "device_id": "pi4device0000001", "profile": "rpi4"}


def make_doc(p50: float = 25.0, spread: float = 1.05, *, device: dict[str, Any] | None = None,
             model: str = "mobilenet_v2_1.0_224_quant.tflite", quant: str = "int8", macs: int | None = 300_000_000,
             threads: int = 4, delegate: str = "cpu", xnnpack: bool = True, size: int = 224,
             created: str = "2025-01-02T03:04:05Z", **extra: Any) -> dict[str, Any]:
    samples = [p50 * f for f in (0.98, 0.99, 1.0, 1.0, 1.01, spread, spread)]
    stats = LatencyStats.of(samples).to_dict()
    doc: dict[str, Any] = {
        "schema": 1, "id": uuid.uuid4().hex, "kind": "model", "created": created, "edgevision": "0.1.0",
        "model": {"name": model.removesuffix(".tflite"), "file": model, "path": f"/home/pi/models/{model}",
                  "sha256": "ab" * 32 if quant == "int8" else "cd" * 32, "size_bytes": 3_500_000,
                  "quantization": quant, "input_shape": [1, size, size, 3],
                  "input_dtype": "uint8" if quant == "int8" else "float32", "macs": macs, "macs_by_op": {},
                  "custom_ops": [], "edgetpu_compiled": False},
        "config": {"threads": threads, "delegate": delegate, "xnnpack": xnnpack, "runs": len(samples), "warmup": 10,
                   "budget_s": None},
        "device": copy.deepcopy(device or PI4),
        "metrics": {"init_ms": 40.0, "invoke": stats, "preprocess": stats, "fps": stats["fps"],
                    "gmacs": macs / (p50 * 1e6) if macs else None, "peak_rss_mb": 80.0, "rss_delta_mb": 20.0,
                    "others_cpu": 0.01},
        "conditions": {"before": {"temp_c": 55.0, "throttled": 0, "throttle_events": None, "governor": "ondemand",
                                  "cur_mhz": 1800.0, "load1": 0.2},
                       "after": {"temp_c": 61.0, "throttled": 0, "throttle_events": None, "governor": "ondemand",
                                 "cur_mhz": 1800.0, "load1": 0.9},
                       "edgetpu": None},
        "pipeline": None, "samples_ms": samples, "flags": [],
    }
    doc.update(extra)
    return doc
