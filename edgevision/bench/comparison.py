"""One comparison across devices and models: table rows, measured vs published, flags.

Input is any mix of result documents (from stores and export files of many machines).
Repeated measurements of the same model, configuration and device collapse to the most
recent one (the row says how many there were); everything else gets its own row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from edgevision.bench import sanity
from edgevision.bench.published import Reference, match
from edgevision.bench.record import config_label, device_label, p50


@dataclass(frozen=True)
class Row:
    doc: dict[str, Any]
    repeats: int
    reference: Reference | None
    flags: tuple[dict[str, str], ...]

    @property
    def device(self) -> str:
        return device_label(self.doc)

    @property
    def model(self) -> str:
        return str(self.doc["model"].get("name", "?"))

    @property
    def config(self) -> str:
        return config_label(self.doc["config"])

    @property
    def ratio(self) -> float | None:
        """measured ÷ published (1.0 = as published; 2.0 = twice as slow)."""
        return p50(self.doc) / self.reference.latency_ms if self.reference else None


@dataclass(frozen=True)
class Comparison:
    rows: tuple[Row, ...]
    devices: tuple[dict[str, Any], ...]     # one fingerprint per device+runtime, in first-seen order
    notes: tuple[str, ...] = field(default=())
    # on-sensor results (the AI Camera's own DNN time): listed apart, never in ``rows`` beside invoke() latency
    sensor: tuple[Row, ...] = field(default=())


def _key(doc: dict[str, Any]) -> tuple[Any, ...]:
    c = doc["config"]
    return (doc.get("kind"), doc["device"].get("id"), doc["model"].get("sha256") or doc["model"].get("name"),
            c.get("threads"), c.get("delegate"), bool(c.get("xnnpack", True)))


def compare(docs: Iterable[dict[str, Any]], references: list[Reference]) -> Comparison:
    from edgevision.bench.record import is_on_sensor

    all_docs = list(docs)
    sensor_rows = _latest_rows([d for d in all_docs if is_on_sensor(d)])
    latest, counts = _latest([d for d in all_docs if not is_on_sensor(d)])
    slower = sanity.int8_slower(latest.values())
    extra: dict[str, list[dict[str, str]]] = {}
    notes = []
    for i8, f in slower:
        msg = (f"int8 is slower than float here: {i8['model']['name']} {p50(i8):.3g} ms vs "
               f"{f['model']['name']} {p50(f):.3g} ms ({config_label(i8['config'])})")
        extra.setdefault(i8["id"], []).append(sanity.flag("int8_slower", "warn", msg))
        notes.append(f"{device_label(i8)}: {msg}")
    rows = []
    for k, d in latest.items():
        flags = [*(d.get("flags") or sanity.check(d)), *extra.get(d["id"], [])]
        ref = None if d["device"].get("emulated") else match(d, references)  # emulated timings are no evidence
        rows.append(Row(d, counts[k], ref, tuple(flags)))
    rows.sort(key=lambda r: (r.model, r.device, r.doc["config"].get("delegate", ""),
                             not r.doc["config"].get("xnnpack", True), r.doc["config"].get("threads") or 0))
    devices: dict[str, dict[str, Any]] = {}
    for r in [*rows, *sensor_rows]:
        devices.setdefault(r.doc["device"].get("id", r.device), r.doc["device"])
    return Comparison(tuple(rows), tuple(devices.values()), tuple(notes), tuple(sensor_rows))


def _latest(docs: list[dict[str, Any]]) -> tuple[dict[tuple[Any, ...], dict[str, Any]], dict[tuple[Any, ...], int]]:
    """The newest document of each measurement (by :func:`_key`), and how many times each was measured."""
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    counts: dict[tuple[Any, ...], int] = {}
    for d in sorted(docs, key=lambda d: d["created"]):
        k = _key(d)
        latest[k] = d
        counts[k] = counts.get(k, 0) + 1
    return latest, counts


def _latest_rows(docs: list[dict[str, Any]]) -> list[Row]:
    latest, counts = _latest(docs)
    rows = [Row(d, counts[k], None, tuple(d.get("flags") or ())) for k, d in latest.items()]
    return sorted(rows, key=lambda r: (r.model, r.device))


SENSOR_HEADER = ("device", "model", "n", "frames", "sensor DNN p50 ms", "sensor DNN p90 ms", "DSP p50 ms",
                 "host parse p50 ms", "frames/s", "capture→label p50 ms")
SENSOR_NOTE = ("On-sensor inference (the Raspberry Pi AI Camera), as the sensor reports it with each frame (DNN and "
               "DSP runtime); the host only parses the output tensor. Not comparable with invoke() latency, which "
               "times a host interpreter on a ready tensor.")


def sensor_rows(comp: Comparison) -> list[tuple[str, ...]]:
    out = []
    for r in comp.sensor:
        m = r.doc["metrics"]
        out.append((r.device, r.model, str(r.repeats), str(m.get("frames", "")), _f(m["invoke"]["p50"]),
                    _f(m["invoke"].get("p90")), _f((m.get("dsp") or {}).get("p50")),
                    _f((m.get("host_parse") or {}).get("p50")), _f(m.get("fps"), ".1f"),
                    _f((m.get("capture_to_label") or {}).get("p50"))))
    return out


def _f(v: Any, fmt: str = ".3g") -> str:
    return "" if v is None else format(v, fmt)


HEADER = ("device", "model", "quant", "config", "n", "p50 ms", "p90 ms", "p99 ms", "FPS", "GMAC/s", "init ms",
          "size KiB", "pipeline FPS", "glass→label p50 ms", "published ms", "measured/published", "flags")


def table_rows(comp: Comparison) -> list[tuple[str, ...]]:
    out = []
    for r in comp.rows:
        d, inv = r.doc, r.doc["metrics"]["invoke"]
        pipe = d.get("pipeline") or {}
        out.append((r.device, r.model, str(d["model"].get("quantization", "")), r.config, str(r.repeats),
                    _f(inv["p50"]), _f(inv.get("p90")), _f(inv.get("p99")), _f(d["metrics"].get("fps"), ".1f"),
                    _f(d["metrics"].get("gmacs")), _f(d["metrics"].get("init_ms"), ".0f"),
                    _f((d["model"].get("size_bytes") or 0) / 1024, ".0f"), _f(pipe.get("fps"), ".1f"),
                    _f((pipe.get("latency") or {}).get("p50")),
                    _f(r.reference.latency_ms) if r.reference else "", f"{r.ratio:.2f}×" if r.ratio else "",
                    ", ".join(dict.fromkeys(f["code"] for f in r.flags))))
    return out


def flag_rows(comp: Comparison) -> list[tuple[str, ...]]:
    return [(r.device, r.model, r.config, f["level"], f["message"]) for r in comp.rows for f in r.flags]


def reference_rows(comp: Comparison) -> list[tuple[str, ...]]:
    return [(r.device, r.model, r.config, r.reference.model, _f(r.reference.latency_ms), _f(p50(r.doc)),
             f"{r.ratio:.2f}×" if r.ratio else "", r.reference.note, r.reference.source)
            for r in comp.rows if r.reference is not None]


def device_rows(comp: Comparison) -> list[tuple[str, ...]]:
    rows = []
    for d in comp.devices:
        rows.append((d.get("name", ""), d.get("board", ""), d.get("cpu", ""), str(d.get("cores", "")),
                     d.get("arch", ""), _f(d.get("memory_mb"), "d"), _f(d.get("max_mhz"), ".0f"),
                     " ".join(d.get("isa") or []), d.get("os", ""), d.get("python", ""),
                     f"{d.get('runtime', '')} {d.get('runtime_version', '')}", d.get("profile") or "",
                     str(d.get("id", ""))))
    return rows


DEVICE_HEADER = ("name", "board", "CPU", "cores", "arch", "memory MB", "max MHz", "SIMD", "OS", "Python",
                 "interpreter", "profile", "fingerprint")


def prune(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """Drop columns that are empty in every row (no pipeline runs, no published figure, no flags)."""
    keep = [i for i in range(len(header)) if any(r[i] for r in rows)]
    return tuple(header[i] for i in keep), [tuple(r[i] for i in keep) for r in rows]
