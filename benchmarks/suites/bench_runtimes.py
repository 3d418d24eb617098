"""tflite-runtime vs ai-edge-litert on this machine, same models, same threads, alternating rounds.

Each interpreter runs in its own virtualenv (they cannot share one: tflite-runtime 2.14
needs NumPy 1.x): ``.venv-device`` (ai-edge-litert) and ``.venv-tflite-runtime``
(``make bench-venvs``), through ``edgevision bench --json``.

    .venv/bin/python benchmarks/suites/bench_runtimes.py [--runs 100] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.models import median, mobilenet_v2

REPO = Path(__file__).resolve().parents[2]


def bench(python: str, model: Path, runs: int, threads: int) -> dict:
    out = subprocess.run([python, "-m", "edgevision", "bench", str(model), "--runs", str(runs), "--threads",
                          str(threads), "--no-store", "--json"], capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"{python}: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else 'failed'}")
    return json.loads(out.stdout)[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    pythons = {"ai-edge-litert": os.environ.get("EDGEVISION_DEVICE_PYTHON", str(REPO / ".venv-device/bin/python")),
               "tflite-runtime": os.environ.get("EDGEVISION_TFLITE_RUNTIME_PYTHON",
                                                str(REPO / ".venv-tflite-runtime/bin/python"))}
    for name, py in pythons.items():
        if not Path(py).exists():
            print(f"skipped: no {name} virtualenv at {py} (make venvs)")
            return 0
    paths = mobilenet_v2(160)
    versions = {}
    print(f"MobileNetV2 160 px, {args.threads} thread(s), {args.rounds} alternating rounds x {args.runs} runs")
    for q, model in paths.items():
        p50: dict[str, list[float]] = {n: [] for n in pythons}
        for r in range(args.rounds):
            for name in (list(pythons) if r % 2 == 0 else list(pythons)[::-1]):
                doc = bench(pythons[name], model, args.runs, args.threads)
                versions[name] = doc["device"]["runtime_version"]
                p50[name].append(doc["metrics"]["invoke"]["p50"])
        a, t = median(p50["ai-edge-litert"]), median(p50["tflite-runtime"])
        print(f"{q:>8}: ai-edge-litert {versions['ai-edge-litert']} p50 {a:.3f} ms | tflite-runtime "
              f"{versions['tflite-runtime']} p50 {t:.3f} ms | ratio tflite-runtime / ai-edge-litert = {t / a:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
