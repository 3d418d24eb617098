"""The comparison as a PNG plot and a self-contained HTML page (the plot inlined), for people.

matplotlib is imported only here, inside the function, so the device side never needs it;
a Pi can measure and export, and a desktop renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgevision.bench.comparison import (
    DEVICE_HEADER,
    HEADER,
    SENSOR_HEADER,
    SENSOR_NOTE,
    Comparison,
    device_rows,
    flag_rows,
    prune,
    reference_rows,
    sensor_rows,
    table_rows,
)
from edgevision.bench.record import p50
from edgevision.errors import MissingDependency

PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingDependency("matplotlib", "train", "plotting benchmark results") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot(comp: Comparison, path: Path) -> Path:
    """Horizontal bars, one per result row grouped by model: p50 (whisker to p90) and FPS; published as ◆."""
    plt = _pyplot()
    rows = list(comp.rows)
    devices = list(dict.fromkeys(r.device for r in rows))
    colors = {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(devices)}
    tag = {d: f"D{i + 1}" for i, d in enumerate(devices)}
    labels = [f"{r.model} · {r.config} · {tag[r.device]}" for r in rows]
    y = list(range(len(rows)))[::-1]
    fig, (ax_lat, ax_fps) = plt.subplots(1, 2, figsize=(12, 1.2 + 0.42 * max(len(rows), 2)), sharey=True,
                                         gridspec_kw={"width_ratios": [3, 2]})
    lat = [p50(r.doc) for r in rows]
    err = [max(0.0, (r.doc["metrics"]["invoke"].get("p90") or p50(r.doc)) - p50(r.doc)) for r in rows]
    ax_lat.barh(y, lat, xerr=[[0] * len(rows), err], color=[colors[r.device] for r in rows], capsize=2)
    for yi, r in zip(y, rows, strict=True):
        if r.reference is not None:
            ax_lat.plot(r.reference.latency_ms, yi, marker="D", color="black", markersize=5)
    if lat and max(lat) / max(min(lat), 1e-9) > 30:
        ax_lat.set_xscale("log")
    ax_lat.set_yticks(y, labels, fontsize=8)
    ax_lat.set_xlabel("invoke() latency, ms (bar p50, whisker p90, ◆ published)")
    ax_lat.grid(axis="x", alpha=0.3)
    fps = [r.doc["metrics"].get("fps") or 0 for r in rows]
    ax_fps.barh(y, fps, color=[colors[r.device] for r in rows], alpha=0.55, label="invoke FPS")
    pipe = [(yi, (r.doc.get("pipeline") or {}).get("fps")) for yi, r in zip(y, rows, strict=True)]
    pts = [(yi, f) for yi, f in pipe if f]
    if pts:
        ax_fps.plot([f for _, f in pts], [yi for yi, _ in pts], "k|", markersize=12, label="pipeline FPS")
        ax_fps.legend(fontsize=8, loc="lower right")
    ax_fps.set_xlabel("frames per second")
    ax_fps.grid(axis="x", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[d]) for d in devices]
    fig.legend(handles, [f"{tag[d]}: {d}" for d in devices], loc="upper center",
               ncol=1 if len(devices) > 3 else len(devices), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - min(0.35, 0.06 * len(devices) + 0.04)))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    h, r = prune(header, rows)
    return (h, *r)


def write_html(comp: Comparison, path: Path, png: Path | None, title: str = "edgevision benchmark report") -> Path:
    from edgevision.report.html import Section, write_report

    n_dev = len(comp.devices)
    sections = [
        Section("Comparison", text=f"{len(comp.rows)} results from {n_dev} device/interpreter "
                f"combination{'s' if n_dev != 1 else ''}. Latency is invoke() only; pipeline columns are "
                "source to label.", table=_table(HEADER, table_rows(comp)), image=png),
    ]
    if comp.sensor:  # a section of its own: the sensor's DNN time is not an invoke() latency
        sections.append(Section("On-sensor inference (Raspberry Pi AI Camera)", text=SENSOR_NOTE,
                                table=_table(SENSOR_HEADER, sensor_rows(comp))))
    sections.append(Section("Devices", table=(DEVICE_HEADER, *device_rows(comp))))
    refs = reference_rows(comp)
    if refs:
        sections.append(Section("Measured vs published", text="Published figures come from the device profiles' "
                                "[[reference]] tables; the source column says where each was published.",
                                table=(("device", "model", "config", "published model", "published ms", "measured ms",
                                        "measured/published", "conditions", "source"), *refs)))
    flags = flag_rows(comp)
    sections.append(Section("Flags", text="" if flags else "No result was flagged.",
                            table=(("device", "model", "config", "level", "message"), *flags) if flags else ()))
    if comp.notes:
        sections.append(Section("Notes", text=" ".join(comp.notes)))
    return write_report(path, title, sections)
