"""Plan and run a benchmark sweep: models × thread counts × delegates (CPU with and without XNNPACK,
Edge TPU when one is attached), each measured once and written up as a result document.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgevision.bench import conditions, sanity
from edgevision.bench.fingerprint import collect
from edgevision.bench.latency import BenchResult, bench_model
from edgevision.bench.macs import count_macs
from edgevision.bench.pipeline_bench import PipelineSpec, bench_pipeline
from edgevision.bench.published import matching_profile
from edgevision.bench.record import file_sha256, new_doc
from edgevision.errors import BadInput
from edgevision.model.opcodes import is_edgetpu_model
from edgevision.model.tflite_file import read_model_bytes
from edgevision.runtime.interpreter import usable_cores

DELEGATE_ALIASES = {"cpu": ("cpu", True), "xnnpack": ("cpu", True), "cpu-noxnnpack": ("cpu", False),
                    "noxnnpack": ("cpu", False), "builtin": ("cpu", False)}


@dataclass(frozen=True)
class RunConfig:
    threads: int
    delegate: str = "cpu"
    xnnpack: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"threads": self.threads, "delegate": self.delegate, "xnnpack": self.xnnpack}


@dataclass(frozen=True)
class BenchOptions:
    runs: int = 100
    warmup: int = 10
    budget_s: float | None = None
    labels: Path | None = None
    device_name: str | None = None
    pipeline: PipelineSpec | None = None
    threads: tuple[int, ...] = ()
    delegates: tuple[str, ...] = ()
    sweep: bool = False
    root: Path = field(default=Path("/"))  # where /proc and /sys live (tests point elsewhere)


def sweep_threads(cores: int) -> list[int]:
    """1, 2, 4, … up to the core count, and the core count itself."""
    out, n = [], 1
    while n < cores:
        out.append(n)
        n *= 2
    return [*out, cores]


def parse_delegate(text: str) -> tuple[str, bool]:
    t = text.strip().lower()
    if t in DELEGATE_ALIASES:
        return DELEGATE_ALIASES[t]
    if t == "edgetpu" or t.startswith("edgetpu:"):
        return t, True
    raise BadInput(f"--delegate {text!r}: expected cpu, cpu-noxnnpack, edgetpu[:usb[:N]|:pci[:N]] or auto")


def plan(model: Path, opts: BenchOptions) -> tuple[list[RunConfig], list[str]]:
    """The configurations to measure for one model, and notes on what was left out and why."""
    data = read_model_bytes(model)
    compiled = is_edgetpu_model(data)
    tpu_ok = bool(conditions.edgetpus(opts.root)) and conditions.edgetpu_runtime_present()
    notes: list[str] = []
    wanted = [w for w in opts.delegates if w != "auto"]
    if opts.sweep or "auto" in opts.delegates:
        wanted += ["edgetpu"] if compiled else ["cpu", "cpu-noxnnpack"]
        if tpu_ok and not compiled:
            notes.append(f"{model.name}: a Coral is attached, but this model is not compiled for it (edgetpu_compiler)")
    delegates = [parse_delegate(w) for w in dict.fromkeys(wanted or ["cpu"])]
    if compiled and not any(d.startswith("edgetpu") for d, _ in delegates):
        raise BadInput(f"{model}: compiled for the Edge TPU; benchmark it with --delegate edgetpu on a machine with "
                       "a Coral, or benchmark the model from before edgetpu_compiler")
    if compiled and not tpu_ok and not opts.delegates:
        raise BadInput(f"{model}: compiled for the Edge TPU, and no Coral with libedgetpu is attached here")
    threads = list(opts.threads) or (sweep_threads(usable_cores()) if opts.sweep else [0])
    configs: list[RunConfig] = []
    for delegate, xnnpack in delegates:
        if compiled and not delegate.startswith("edgetpu"):
            notes.append(f"{model.name}: compiled for the Edge TPU; skipped on the {delegate} alone")
            continue
        for n in ([1] if delegate.startswith("edgetpu") and not opts.threads else threads):
            configs.append(RunConfig(n, delegate, xnnpack))
    return list(dict.fromkeys(configs)), notes


def model_info(path: Path, result: BenchResult) -> dict[str, Any]:
    data = path.read_bytes()
    try:
        macs = count_macs(data)
        by_op, custom = macs.by_op, list(macs.custom_ops)
    except (ValueError, IndexError):
        by_op, custom = {}, []
    return {"name": path.stem, "file": path.name, "path": str(path.resolve()), "sha256": file_sha256(path),
            "size_bytes": result.size_bytes, "quantization": result.quantization,
            "input_shape": list(result.input_shape), "input_dtype": result.input_dtype, "macs": result.macs,
            "macs_by_op": by_op, "custom_ops": custom, "edgetpu_compiled": is_edgetpu_model(data)}


def run_config(model: Path, config: RunConfig, opts: BenchOptions) -> dict[str, Any]:
    """Measure one configuration; returns its result document (flags included)."""
    before = conditions.snapshot(opts.root)
    result = bench_model(model, runs=opts.runs, warmup=opts.warmup, threads=config.threads or None,
                         delegate=config.delegate, labels=opts.labels, budget_s=opts.budget_s, xnnpack=config.xnnpack)
    after = conditions.snapshot(opts.root)
    pipeline = None
    if opts.pipeline is not None and config.xnnpack:  # the Classifier path always uses the default kernels
        pipeline = bench_pipeline(model, opts.pipeline, threads=config.threads or None, delegate=config.delegate,
                                  labels=opts.labels)
    fp = collect(result.runtime, result.runtime_version, opts.device_name, opts.root)
    device = {**fp.to_dict(), "profile": None}
    device["profile"] = matching_profile(device, result.delegate)
    tpu = next((t for t in conditions.edgetpus(opts.root) if _bus_matches(t, result.delegate)), None)
    inv = result.invoke
    metrics = {"init_ms": round(result.init_ms, 3), "invoke": inv.to_dict(), "preprocess": result.preprocess.to_dict(),
               "fps": round(inv.fps, 3), "gmacs": round(result.gmacs, 3) if result.gmacs else None,
               "peak_rss_mb": round(result.peak_rss_mb, 1), "rss_delta_mb": round(result.rss_delta_mb, 1),
               "others_cpu": result.others_cpu}
    cfg = {"threads": result.threads, "delegate": result.delegate, "xnnpack": result.xnnpack,
           "runs": inv.runs, "warmup": opts.warmup, "budget_s": opts.budget_s}
    doc = new_doc("model", model_info(model, result), cfg, device, metrics,
                  conditions={"before": before.to_dict(), "after": after.to_dict(),
                              "edgetpu": {"bus": tpu.bus, "path": tpu.path, "speed_mbps": tpu.speed_mbps}
                              if tpu else None},
                  pipeline=pipeline, samples_ms=[round(s, 5) for s in result.samples_ms])
    doc["flags"] = sanity.check(doc)
    return doc


def _bus_matches(tpu: conditions.EdgeTpu, delegate: str) -> bool:
    return delegate.startswith("edgetpu") and (delegate in ("edgetpu", f"edgetpu:{tpu.bus}")
                                                or delegate.startswith(f"edgetpu:{tpu.bus}:"))


def run(models: list[Path], opts: BenchOptions) -> Iterator[tuple[Path, RunConfig | None, dict[str, Any] | str]]:
    """Yield (model, config, result document) per measurement, or (model, None, note) for skipped ones."""
    for model in models:
        configs, notes = plan(model, opts)
        for note in notes:
            yield model, None, note
        for config in configs:
            yield model, config, run_config(model, config, opts)
