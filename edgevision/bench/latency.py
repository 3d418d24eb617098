"""Model latency on this machine: warm-up, timed ``invoke()`` runs, percentiles, FPS, init time, RSS.

Times are taken around ``invoke()`` only, on a ready input tensor, so the figure is the
model's and not the harness's; preprocessing is measured separately.
"""

from __future__ import annotations

import resource
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.bench.conditions import CpuMeter
from edgevision.bench.macs import count_macs
from edgevision.model.artifact import ModelArtifact, load_artifact
from edgevision.runtime.classifier import Classifier, ClassifierOptions
from edgevision.runtime.inspect import quantization_summary


@dataclass(frozen=True)
class LatencyStats:
    """Summary of one timed series, milliseconds unless named otherwise."""

    runs: int
    p50: float
    p90: float
    p99: float
    mean: float
    std: float
    min: float
    max: float

    @property
    def fps(self) -> float:
        return 1000.0 / self.p50 if self.p50 > 0 else 0.0

    @classmethod
    def of(cls, samples_ms: list[float] | np.ndarray) -> LatencyStats:
        a = np.asarray(samples_ms, dtype=np.float64)
        p50, p90, p99 = np.percentile(a, [50, 90, 99])
        return cls(runs=int(a.size), p50=float(p50), p90=float(p90), p99=float(p99), mean=float(a.mean()),
                   std=float(a.std()), min=float(a.min()), max=float(a.max()))

    def to_dict(self) -> dict[str, float]:
        return {**{k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()},
                "fps": round(self.fps, 2)}


@dataclass(frozen=True)
class BenchResult:
    model: str
    size_bytes: int
    runtime: str
    runtime_version: str
    threads: int
    delegate: str
    init_ms: float
    invoke: LatencyStats
    preprocess: LatencyStats
    peak_rss_mb: float
    samples_ms: tuple[float, ...]
    xnnpack: bool = True
    rss_delta_mb: float = 0.0          # resident memory this interpreter added (peak RSS is per process)
    macs: int | None = None            # None: unknown (ops hidden in a custom op such as the Edge TPU's)
    quantization: str = ""
    input_shape: tuple[int, ...] = ()
    input_dtype: str = ""
    others_cpu: float | None = None    # fraction of all cores other processes used during the runs

    @property
    def gmacs(self) -> float | None:
        """Achieved GMAC/s at the median latency."""
        return self.macs / (self.invoke.p50 * 1e6) if self.macs and self.invoke.p50 > 0 else None

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k not in ("invoke", "preprocess", "samples_ms")}
        d["init_ms"] = round(self.init_ms, 3)
        d["peak_rss_mb"] = round(self.peak_rss_mb, 1)
        d["rss_delta_mb"] = round(self.rss_delta_mb, 1)
        d["input_shape"] = list(self.input_shape)
        d["gmacs"] = round(self.gmacs, 3) if self.gmacs is not None else None
        d["invoke"], d["preprocess"] = self.invoke.to_dict(), self.preprocess.to_dict()
        return d


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def current_rss_mb() -> float:
    """Resident set size now (Linux /proc; falls back to the peak elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()
    return pages * resource.getpagesize() / (1024 * 1024)


def time_calls(fn: Callable[[], object], runs: int, warmup: int, budget_s: float | None = None) -> list[float]:
    """Call ``fn`` ``warmup`` times untimed, then up to ``runs`` times (or until ``budget_s``), in ms."""
    for _ in range(warmup):
        fn()
    out: list[float] = []
    clock = time.perf_counter
    deadline = clock() + budget_s if budget_s else None
    for _ in range(runs):
        t0 = clock()
        fn()
        out.append((clock() - t0) * 1e3)
        if deadline is not None and clock() > deadline:
            break
    return out


def bench_model(model: str | Path, runs: int = 100, warmup: int = 10, threads: int | None = None,
                delegate: str | None = None, labels: str | Path | None = None, normalization: str | None = None,
                budget_s: float | None = None, seed: int = 0, xnnpack: bool = True) -> BenchResult:
    """Benchmark one model file; the input is a fixed random frame at the model's input size.

    The model is loaded as :class:`Classifier` loads it (the same interpreter, input checks and
    preprocessing); the benchmark then times ``invoke`` and the preprocessing on their own.
    """
    rss0 = current_rss_mb()
    t0 = time.perf_counter()
    art = load_artifact(model, labels)
    if normalization is None and not has_normalization(art):
        normalization = "raw"  # latency does not depend on it; do not refuse a bare float model here
    clf = Classifier(art, options=ClassifierOptions(threads=threads, delegate=delegate, normalization=normalization,
                                                    xnnpack=xnnpack))
    interp, info, detail = clf.interpreter, clf.runtime, clf.input_detail
    spec, preprocessor = clf.spec, clf.preprocessor
    init_ms = (time.perf_counter() - t0) * 1e3
    frame = np.random.default_rng(seed).integers(0, 256, (spec.height, spec.width, 3), dtype=np.uint8)
    interp.set_tensor(int(detail["index"]), preprocessor(frame))
    with CpuMeter() as meter:
        samples = time_calls(interp.invoke, runs, warmup, budget_s)
    pre = time_calls(lambda: preprocessor(frame), min(runs, 50), 3)
    macs = _macs(art.data)
    return BenchResult(model=str(model), size_bytes=Path(model).stat().st_size, runtime=info.name,
                       runtime_version=info.version, threads=info.threads, delegate=info.delegate, init_ms=init_ms,
                       invoke=LatencyStats.of(samples), preprocess=LatencyStats.of(pre), peak_rss_mb=peak_rss_mb(),
                       samples_ms=tuple(samples), xnnpack=xnnpack, rss_delta_mb=max(0.0, current_rss_mb() - rss0),
                       macs=macs, quantization=_quantization(interp),
                       input_shape=tuple(int(v) for v in detail["shape"]),
                       input_dtype=np.dtype(detail["dtype"]).name, others_cpu=meter.others_fraction)


def _macs(data: bytes) -> int | None:
    try:
        count = count_macs(data)
    except (ValueError, IndexError, struct.error):
        return None
    return count.total if count.complete and count.total else None


def _quantization(interp: Any) -> str:
    try:
        return quantization_summary(interp)
    except (ValueError, RuntimeError, KeyError):
        return ""


def has_normalization(art: ModelArtifact) -> bool:
    """Whether the model says how to normalize its input (else the benchmark feeds raw pixels)."""
    return art.card is not None or (art.metadata is not None and art.metadata.mean is not None)
