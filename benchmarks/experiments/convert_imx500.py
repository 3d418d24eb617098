"""The IMX500 (Raspberry Pi AI Camera) target on the real sign-language digits: float vs MCT-quantized.

    .venv/bin/python benchmarks/experiments/convert_imx500.py [--data PATH] [--run /tmp/ev-sign-digits] [--max-drop 1.0]

1. Trains the default recipe once if RUN has no model (``edgevision train DATA --out RUN``).
2. Runs ``edgevision convert RUN --target imx500 --json`` (needs ``make imx500-venv``): Model
   Compression Toolkit PTQ with the stratified calibration set and the IMX500 platform
   capabilities, imxconv-tf -> packerOut.zip, both models scored on the test split with the
   device's resize on raw 0..255 pixels (normalized by the network's first layer, as on the sensor).
3. Prints float vs IMX500-quantized accuracy, the drop and agreement, the sensor memory used
   (imxconv's memory report) and packerOut.zip ÷ the float Keras model in size; all from one run.
   Writes them as JSON to RUN/imx500_benchmark.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.train_common import REPO, SIGN_DIGITS


def edgevision(*args: str, timeout: float = 7200) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgevision", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=SIGN_DIGITS)
    ap.add_argument("--run", type=Path, default=Path("/tmp/ev-sign-digits"))
    ap.add_argument("--max-drop", default="1.0")
    args = ap.parse_args()
    if not (args.run / "model.keras").is_file():
        print(f"training {args.run} with the default recipe ...", flush=True)
        t = edgevision("train", str(args.data), "--out", str(args.run))
        if t.returncode != 0:
            sys.exit(t.stderr[-3000:])
    t0 = time.perf_counter()
    r = edgevision("convert", str(args.run), "--target", "imx500", "--max-drop", args.max_drop, "--json")
    wall = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        sys.exit(r.stderr[-3000:])
    rep = json.loads(r.stdout)
    f, q, imx = rep["variants"]["float32"], rep["variants"]["imx500"], rep["imx500"]
    mem = imx["memory"]
    result = {"images": rep["images"], "split": rep["split"], "float_accuracy": f["accuracy"],
              "imx500_accuracy": q["accuracy"], "drop_points": rep["drop_points"], "agreement": rep["agreement"],
              "passed": rep["passed"], "memory_used_kb": mem.get("used_kb"), "memory_total_kb": mem.get("total_kb"),
              "memory_fraction": mem.get("used_fraction"), "fits": mem.get("fits"),
              "packer_kib": round(q["size_bytes"] / 1024, 1), "packer_over_float_keras": round(q["size_bytes"]
                                                                                                / f["size_bytes"], 3),
              "normalization": imx["normalization"], "convert_wall_s": round(wall, 1),
              "toolchain": imx["toolchain"]}
    print(f"{rep['model']}: {rep['images']} {rep['split']} images")
    print(f"  float (Keras)        accuracy {f['accuracy']:.4f}")
    print(f"  IMX500 (MCT int8)    accuracy {q['accuracy']:.4f}  drop {rep['drop_points']:.2f} points, agreement "
          f"{rep['agreement']:.3f}  -> gate {'PASS' if rep['passed'] else 'FAIL'} (budget {rep['budget_points']})")
    print(f"  sensor memory        {mem.get('used_kb')} KB of {mem.get('total_kb')} KB "
          f"({(mem.get('used_fraction') or 0):.1%}), fits: {mem.get('fits')}")
    print(f"  packerOut.zip        {result['packer_kib']} KiB = {result['packer_over_float_keras']}x the float "
          f".keras file; convert took {wall:.0f} s")
    (args.run / "imx500_benchmark.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
