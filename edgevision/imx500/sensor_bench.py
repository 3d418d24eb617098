"""``edgevision bench NETWORK.rpk``: the AI Camera's on-sensor inference time, as the sensor reports it.

On the IMX500 the network runs inside the sensor, so there is no ``invoke()`` to time. What
can be measured is what the sensor itself reports with each frame (picamera2's
``IMX500.get_kpi_info``: the DNN runtime and the DSP runtime, from the ``CnnKpiInfo``
metadata), the host's share (turning the output tensor into ranked labels), and the rate at
which frames with outputs arrive. The result document has the usual shape (``metrics.invoke``
holds the sensor's DNN runtime so stores and exports keep working) but ``kind`` is
``sensor`` and ``on_sensor`` is true: reports list it apart from CPU and Edge TPU invoke()
figures, which measure something else (a host interpreter on a ready tensor).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from edgevision.bench.fingerprint import collect
from edgevision.bench.latency import LatencyStats
from edgevision.bench.record import SENSOR_KIND as KIND
from edgevision.bench.record import file_sha256, is_on_sensor, new_doc
from edgevision.errors import BadInput

__all__ = ["KIND", "is_on_sensor", "measure", "sensor_doc"]

PROFILE = "rpi-ai-camera"
KPI_SOURCE = "picamera2 IMX500.get_kpi_info (CnnKpiInfo request metadata)"


def measure(source: Any, clf: Any, frames: int, warmup: int) -> dict[str, Any]:
    """``warmup`` then ``frames`` frames with outputs; per frame the sensor's DNN/DSP ms and the host's parse ms."""
    source.open()
    dnn: list[float] = []
    dsp: list[float] = []
    parse: list[float] = []
    to_label: list[float] = []
    stamps: list[float] = []
    try:
        for i in range(warmup + frames):
            frame = source.read()
            if frame is None:
                raise BadInput(f"imx500: no frame with network outputs after {i} frames (is the network loaded? "
                               "the first load of a network takes minutes; run `edgevision doctor` first)")
            t0 = time.perf_counter()
            scores = clf.scores_for_frame(frame).scores
            clf.rank(scores)
            t1 = time.perf_counter()
            if i < warmup:
                continue
            parse.append((t1 - t0) * 1e3)
            to_label.append((time.time() - frame.t_capture) * 1e3)
            stamps.append(frame.t_capture)
            if getattr(frame, "sensor_ms", None) is not None:
                dnn.append(float(frame.sensor_ms))
            if getattr(frame, "dsp_ms", None) is not None:
                dsp.append(float(frame.dsp_ms))
    finally:
        source.close()
    if not dnn:
        raise BadInput("imx500: the sensor reported no inference time with its frames (no CnnKpiInfo metadata); "
                       "update libcamera and picamera2 (sudo apt full-upgrade)")
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    out: dict[str, Any] = {"invoke": LatencyStats.of(dnn).to_dict(), "host_parse": LatencyStats.of(parse).to_dict(),
                           "capture_to_label": LatencyStats.of(to_label).to_dict(),
                           "fps": round((len(stamps) - 1) / span, 3) if span > 0 else None,
                           "frames": len(stamps), "frames_with_kpi": len(dnn), "kpi_source": KPI_SOURCE,
                           "frames_without_outputs": getattr(source, "frames_without_outputs", None)}
    out["dsp"] = LatencyStats.of(dsp).to_dict() if dsp else None
    return out


def sensor_doc(rpk: Path, clf: Any, metrics: dict[str, Any], warmup: int, device_name: str | None = None,
               root: Path = Path("/"), network_input: tuple[int, int] | None = None) -> dict[str, Any]:
    """The result document for one on-sensor measurement."""
    card = getattr(clf, "card", None) or {}
    model = {"name": str(card.get("name") or rpk.stem), "file": rpk.name, "path": str(rpk.resolve()),
             "sha256": file_sha256(rpk), "size_bytes": rpk.stat().st_size, "quantization": "imx500",
             "input_shape": [1, network_input[1], network_input[0], 3] if network_input else [],
             "macs": None, "on_sensor": True}
    device = {**collect("imx500", "on-sensor", device_name, root).to_dict(), "profile": PROFILE}
    config = {"threads": 0, "delegate": "imx500", "xnnpack": False, "on_sensor": True,
              "runs": metrics["invoke"]["runs"], "warmup": warmup}
    return new_doc(KIND, model, config, device, metrics, on_sensor=True, flags=[])
