"""Converter benchmark on the real sign-language-digits data: float vs int8 (and friends), one run.

    .venv/bin/python benchmarks/experiments/convert_digits.py [--data PATH] [--run runs/bench-digits] [--rounds 5]
                                                   [--hard-case] [--onnx]

1. Trains the model once if RUN has none (``edgevision train DATA --out RUN --recipe
   benchmarks/experiments/convert_digits_recipe.toml``: small_cnn, 64 px, a few minutes on 2 cores).
2. Converts with ``--quant all`` through the same code as ``edgevision convert``: accuracy on
   the test split through the device runtime, sizes, and each variant's latency.
3. Re-measures float32 and int8 latency interleaved over ``--rounds`` rounds (same process,
   same threads) so the int8/float ratio is not skewed by load that comes and goes.
4. ``--hard-case``: gives the same model an activation outlier (one bn2 channel x300, conv3's
   matching weights /300: the same function in float) and shows plain int8 failing the gate
   and the repair's layers, drop, latency and size.

Prints ratios measured in one run; the pass lines check int8 size <= 0.30x and latency
<= 0.6x float on this machine. Writes the numbers as JSON to RUN/convert_benchmark.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.train_common import REPO, SIGN_DIGITS

RECIPE = Path(__file__).with_name("convert_digits_recipe.toml")


def train_if_needed(data: Path, run: Path) -> None:
    if (run / "model.keras").is_file():
        print(f"using the trained model in {run}")
        return
    print(f"training {run} (recipe {RECIPE.name}) ...", flush=True)
    subprocess.run([sys.executable, "-m", "edgevision", "train", str(data), "--out", str(run), "--recipe",
                    str(RECIPE)], check=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def interleaved_latency(paths: dict[str, str], rounds: int, runs: int) -> dict[str, list[float]]:
    from edgevision.bench.latency import bench_model

    out: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, path in paths.items():
            out[name].append(bench_model(path, runs=runs, warmup=10).invoke.p50)
    return out


def add_outlier(src: Path, dst: Path, scale: float = 300.0) -> Path:
    import keras
    import numpy as np

    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("export", "*.json.bak"))
    model = keras.models.load_model(dst / "model.keras", compile=False)
    bn = model.get_layer("bn2")
    gamma, beta, mean, var = (np.array(w) for w in bn.get_weights())
    gamma[0] *= scale
    beta[0] *= scale
    bn.set_weights([gamma, beta, mean, var])
    conv3 = model.get_layer("conv3")
    weights = [np.array(w) for w in conv3.get_weights()]
    weights[0][:, :, 0, :] /= scale
    conv3.set_weights(weights)
    model.save(dst / "model.keras")
    return dst


def table(report: dict[str, Any], latency: dict[str, float]) -> None:
    ref = report["variants"]["float32"]
    print(f"\n{'variant':<11} {'accuracy':>8} {'drop pts':>8} {'agree':>6} {'file KiB':>9} {'file x':>7} "
          f"{'model x':>8} {'p50 ms':>8} {'lat x':>6}")
    for name, v in report["variants"].items():
        lat = latency.get(name, v["latency_ms"])
        print(f"{name:<11} {v['accuracy']:>8.4f} {v['drop_points']:>8.2f} {v['agreement']:>6.3f} "
              f"{v['size_bytes'] / 1024:>9.1f} {v['size_bytes'] / ref['size_bytes']:>7.3f} "
              f"{v['model_bytes'] / ref['model_bytes']:>8.3f} {lat:>8.4f} "
              f"{lat / latency.get('float32', ref['latency_ms']):>6.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=SIGN_DIGITS)
    ap.add_argument("--run", type=Path, default=REPO / "runs" / "bench-digits")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=200, help="timed invokes per round and model")
    ap.add_argument("--hard-case", action="store_true")
    ap.add_argument("--onnx", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from rich.console import Console

    from edgevision.convert.conversion import ConvertOptions, convert_run

    print(f"load average before: {os.getloadavg()}")
    train_if_needed(args.data, args.run)
    con = Console(stderr=True)
    report = convert_run(args.run, ConvertOptions(quant="all", latency_runs=args.runs,
                                                  formats=("tflite", "onnx") if args.onnx else None), con)
    series = interleaved_latency({k: report["variants"][k]["path"] for k in ("float32", "int8")}, args.rounds,
                                 args.runs)
    med = {k: statistics.median(v) for k, v in series.items()}
    table(report, med)
    f, q = report["variants"]["float32"], report["variants"]["int8"]
    size_ratio, model_ratio, lat_ratio = q["size_bytes"] / f["size_bytes"], q["model_bytes"] / f["model_bytes"], \
        med["int8"] / med["float32"]
    per_round = [b / a for a, b in zip(series["float32"], series["int8"], strict=True)]
    print(f"\nint8 / float32 latency, per round: {', '.join(f'{r:.3f}' for r in per_round)}")
    print(f"[{'PASS' if size_ratio <= 0.30 else 'FAIL'}] int8 file size {size_ratio:.3f}x float (model alone "
          f"{model_ratio:.3f}x; budget 0.30x)")
    print(f"[{'PASS' if lat_ratio <= 0.6 else 'FAIL'}] int8 latency {lat_ratio:.3f}x float "
          f"(median of {args.rounds} interleaved rounds x {args.runs} invokes; budget 0.6x)")
    print(f"int8 accuracy {q['accuracy']:.4f} vs float {f['accuracy']:.4f}: drop {q['drop_points']:.2f} points "
          f"(budget {report['budget_points']}: {'within' if q['passed'] else 'OVER'}), agreement {q['agreement']:.3f} "
          f"on {report['images']} test images")
    d = report["variants"][report["quant"]]
    print(f"[{'PASS' if report['passed'] else 'FAIL'}] delivered {report['quant']}: drop {d['drop_points']:.2f} "
          f"points, file {d['size_bytes'] / f['size_bytes']:.3f}x, latency {d['latency_ms'] / f['latency_ms']:.3f}x "
          "float (single series)")
    for s in (report.get("repair") or {}).get("strategies", []):
        print(f"  repair {s['strategy']}: kept in float: "
              f"{', '.join(x.get('layer', x['tensor']) for x in s.get('float_layers', [])) or '-'}")
    if report.get("onnx"):
        o = report["onnx"]
        print(f"ONNX: agreement with TFLite {o['agreement']:.4f} on {o['images']} images, "
              f"max score diff {o['max_abs_score_diff']:.2e}")
    result: dict[str, Any] = {"report": report, "latency_rounds_ms": series, "int8_size_ratio": size_ratio,
                              "int8_model_ratio": model_ratio, "int8_latency_ratio": lat_ratio,
                              "load_average_after": os.getloadavg()}
    if args.hard_case:
        hard = add_outlier(args.run, args.run.parent / f"{args.run.name}-outlier")
        r = convert_run(hard, ConvertOptions(latency_runs=args.runs), con)
        plain, rep = r["variants"]["int8"], r["repair"]
        print(f"\nhard case (activation outlier in bn2): float {r['variants']['float32']['accuracy']:.4f}, plain int8 "
              f"{plain['accuracy']:.4f} (drop {plain['drop_points']:.2f} points, gate "
              f"{'pass' if plain['passed'] else 'FAIL'})")
        for s in rep["strategies"]:
            layers = ", ".join(x.get("layer", x["tensor"]) for x in s.get("float_layers", []))
            print(f"  {s['strategy']}: {'within budget' if s.get('passed') else 'not enough'}; "
                  f"{s.get('trials', 1)} candidates; float layers: {layers or '-'}; gate {s.get('gate')}")
        if rep.get("chosen"):
            c = r["variants"][rep["chosen"]]
            print(f"  delivered {rep['chosen']}: accuracy {c['accuracy']:.4f}, drop {c['drop_points']:.2f}, "
                  f"latency x{c['latency_ms'] / plain['latency_ms']:.2f} of int8 "
                  f"(x{c['latency_ms'] / r['variants']['float32']['latency_ms']:.2f} of float), "
                  f"size x{c['size_bytes'] / plain['size_bytes']:.2f} of int8")
        else:
            print(f"  no repair within budget: {rep['why_not']}")
        result["hard_case"] = r
    out = args.run / "convert_benchmark.json"
    out.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"\nload average after: {os.getloadavg()}; numbers in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
