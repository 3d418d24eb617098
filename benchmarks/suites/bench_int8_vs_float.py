"""int8 vs float32 on this machine: latency and size ratios, per thread count and XNNPACK on/off.

    .venv/bin/python benchmarks/suites/bench_int8_vs_float.py [--runs 100] [--size 160]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.models import median, mobilenet_v2
from edgevision.bench.latency import bench_model
from edgevision.runtime.interpreter import usable_cores


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", type=int, default=160)
    args = ap.parse_args()
    paths = mobilenet_v2(args.size)
    cores = usable_cores()
    size_ratio = paths["int8"].stat().st_size / paths["float32"].stat().st_size
    print(f"MobileNetV2 {args.size} px; size int8 / float32 = {size_ratio:.3f} "
          f"({paths['int8'].stat().st_size / 1e6:.2f} MB vs {paths['float32'].stat().st_size / 1e6:.2f} MB)")
    print(f"{'threads':>7} {'kernels':>8} {'float32 p50':>12} {'int8 p50':>9} {'int8/float32':>13}")
    for threads in sorted({1, cores}):
        for xnnpack in (True, False):
            p50 = {q: [] for q in paths}
            for r in range(args.rounds):
                for q in (("float32", "int8") if r % 2 == 0 else ("int8", "float32")):
                    p50[q].append(bench_model(paths[q], runs=args.runs, warmup=10, threads=threads,
                                              xnnpack=xnnpack).invoke.p50)
            f, i = median(p50["float32"]), median(p50["int8"])
            print(f"{threads:>7} {'xnnpack' if xnnpack else 'builtin':>8} {f:>9.3f} ms {i:>6.3f} ms {i / f:>13.3f}"
                  + ("   <- int8 slower than float here" if i > f else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
