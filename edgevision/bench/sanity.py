"""Can this number be trusted? Checks attached to each result as flags.

- faster than physically possible (MACs ÷ the device's peak rate): a measurement bug,
  e.g. a model whose work was skipped or a timer around the wrong call;
- noisy (a wide p50-p90 spread): other work or frequency scaling interfered;
- other processes used the CPU during the runs; thermal throttling; a slow governor;
- a Coral on a USB2 link (3-7x slower than USB3);
- int8 slower than float on the same device (a cross-result check).

Peak rates are deliberately generous upper bounds per core and cycle: a result below
them is not merely fast, it is impossible.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from edgevision.bench.conditions import HOT_C, describe_throttled
from edgevision.bench.record import p50

# MACs per core per cycle, generous (two 512-bit FMA pipes with VNNI; NEON dot-product x2)
PEAK_MACS_PER_CYCLE = {("x86_64", "int8"): 256, ("x86_64", "float"): 64,
                       ("aarch64", "int8"): 128, ("aarch64", "float"): 32}
FALLBACK_GHZ = 6.0
EDGETPU_PEAK_MACS = 2e12   # 4 TOPS = 2 TMAC/s
NOISY_SPREAD = 0.25        # (p90 - p50) / p50
BUSY_OTHERS = 0.25         # fraction of all cores used by other processes
SLOW_GOVERNORS = ("powersave", "conservative")
INT8_MARGIN = 1.05


def flag(code: str, level: str, message: str) -> dict[str, str]:
    return {"code": code, "level": level, "message": message}


def peak_macs_per_s(device: dict[str, Any], config: dict[str, Any], quantization: str) -> float | None:
    """Upper bound of the MAC rate available to this configuration, or None when unknown."""
    if str(config.get("delegate", "cpu")).startswith("edgetpu"):
        return EDGETPU_PEAK_MACS
    arch = "aarch64" if device.get("arch") in ("aarch64", "arm64", "armv8l") else "x86_64"
    kind = "int8" if quantization in ("int8", "uint8", "dynamic", "mixed") else "float"
    cores = max(1, min(int(config.get("threads") or 1), int(device.get("cores") or 1)))
    ghz = (device.get("max_mhz") or FALLBACK_GHZ * 1000) / 1000.0
    amx = 4 if kind == "int8" and "amx_int8" in (device.get("isa") or []) else 1  # Intel AMX tiles
    return cores * ghz * 1e9 * PEAK_MACS_PER_CYCLE[(arch, kind)] * amx


def check(doc: dict[str, Any]) -> list[dict[str, str]]:
    """Flags for one result document (its own numbers and the conditions recorded with it)."""
    out: list[dict[str, str]] = []
    if doc["device"].get("emulated"):
        out.append(flag("emulated", "warn", f"CPU emulated ({doc['device']['emulated']}): the timings are the "
                        "emulator's, not the board's; cpu and isa are the host's. Not compared with published figures"))
    inv = doc["metrics"]["invoke"]
    macs = doc["model"].get("macs")
    peak = peak_macs_per_s(doc["device"], doc["config"], doc["model"].get("quantization", ""))
    if macs and peak and inv["p50"] > 0:
        floor_ms = macs / peak * 1e3
        if inv["p50"] < floor_ms:
            out.append(flag("impossible", "error", f"p50 {inv['p50']:.4g} ms is faster than {macs / 1e6:.1f} M MACs "
                            f"at this device's peak allows ({floor_ms:.3g} ms): a measurement bug, not a result"))
    if inv["p50"] > 0 and inv.get("p90") is not None and (inv["p90"] - inv["p50"]) / inv["p50"] > NOISY_SPREAD:
        out.append(flag("noisy", "warn", f"wide spread: p90 {inv['p90']:.3g} ms vs p50 {inv['p50']:.3g} ms; "
                        "rerun on an idle machine or with more runs"))
    others = doc["metrics"].get("others_cpu")
    if others is not None and others > BUSY_OTHERS:
        out.append(flag("busy", "warn", f"other processes used {others:.0%} of the CPU during the runs"))
    out += _thermal(doc.get("conditions") or {})
    tpu = (doc.get("conditions") or {}).get("edgetpu") or {}
    if tpu.get("bus") == "usb" and tpu.get("speed_mbps") and tpu["speed_mbps"] < 5000:
        out.append(flag("usb2", "warn", f"Coral on a USB2 link ({tpu['speed_mbps']} Mbit/s): expect 3-7x slower "
                        "inference than on a USB3 port"))
    return out


def _thermal(cond: dict[str, Any]) -> list[dict[str, str]]:
    before, after = cond.get("before") or {}, cond.get("after") or {}
    out: list[dict[str, str]] = []
    word_after, word_before = after.get("throttled"), before.get("throttled") or 0
    if word_after:
        now = word_after & 0xF
        new = (word_after & ~word_before) >> 16 & 0xF
        if now or new:
            out.append(flag("throttled", "warn", "Pi firmware reports: " + ", ".join(describe_throttled(word_after))))
    ev0, ev1 = before.get("throttle_events"), after.get("throttle_events")
    if ev0 is not None and ev1 is not None and ev1 > ev0:
        out.append(flag("throttled", "warn", f"CPU thermal throttling during the runs ({ev1 - ev0} events)"))
    hottest = max((t for t in (before.get("temp_c"), after.get("temp_c")) if t is not None), default=None)
    if hottest is not None and hottest >= HOT_C:
        out.append(flag("hot", "warn", f"CPU at {hottest:.0f} °C: clocks are reduced from {HOT_C:.0f} °C"))
    gov = after.get("governor") or before.get("governor")
    if gov in SLOW_GOVERNORS:
        out.append(flag("governor", "warn", f"CPU governor is {gov!r}: clocks stay low; use 'performance' or "
                        "'ondemand' for representative numbers"))
    return out


def int8_slower(docs: Iterable[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(int8, float) pairs of the same architecture, device and configuration where int8 is slower.

    "Same architecture": equal MAC count (within 2 %) and input size; that pairs the int8 and
    float32 exports of one network without relying on file names.
    """
    groups: dict[tuple[Any, ...], dict[str, list[dict[str, Any]]]] = {}
    for d in docs:
        m, c = d["model"], d["config"]
        q = m.get("quantization")
        if d.get("kind") != "model" or not m.get("macs") or q not in ("int8", "float32", "float16"):
            continue
        key = (d["device"].get("id"), c.get("threads"), c.get("delegate"), c.get("xnnpack"),
               tuple(m.get("input_shape") or ())[1:3])
        groups.setdefault(key, {}).setdefault("int8" if q == "int8" else "float", []).append(d)
    pairs = []
    for g in groups.values():
        for i in g.get("int8", []):
            for f in g.get("float", []):
                same_net = abs(i["model"]["macs"] - f["model"]["macs"]) <= 0.02 * f["model"]["macs"]
                if same_net and p50(i) > p50(f) * INT8_MARGIN:
                    pairs.append((i, f))
    return pairs
