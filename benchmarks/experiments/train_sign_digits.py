"""The default recipe from scratch on the sign-language digits, then int8: the README's results row.

Runs exactly what a user runs (`edgevision train`, then `edgevision convert`) and reports
the int8 model's test accuracy from the converter's report, the float accuracies, and the
training wall time against the 15-minute budget of this 2-core machine.

    .venv/bin/python benchmarks/experiments/train_sign_digits.py [--recipe small_cnn] [--out /tmp/ev-sign-digits]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.train_common import REPO, SIGN_DIGITS, load_average, save

BUDGET_S = 15 * 60


def run(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "edgevision", *args, "--json"], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)})
    if proc.returncode not in (0, 1):
        sys.exit(f"edgevision {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default="small_cnn")
    ap.add_argument("--data", type=Path, default=SIGN_DIGITS)
    ap.add_argument("--out", type=Path, default=Path("/tmp/ev-sign-digits"))
    args = ap.parse_args()
    if not args.data.is_dir():
        sys.exit(f"dataset not found: {args.data}")
    shutil.rmtree(args.out, ignore_errors=True)
    load_before = load_average()
    t0 = time.perf_counter()
    trained = run("train", str(args.data), "--out", str(args.out), "--recipe", args.recipe)
    train_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    report = run("convert", str(args.out))
    convert_s = time.perf_counter() - t1
    v = report["variants"]
    result = {
        "dataset": str(args.data), "recipe": args.recipe,
        "recipe_values": json.loads((args.out / "run.json").read_text())["recipe"],
        "train_wall_s": round(train_s, 1), "within_15_min": train_s <= BUDGET_S, "convert_wall_s": round(convert_s, 1),
        "epochs_run": trained["epochs_run"], "best_epoch": trained["best_epoch"],
        "keras_test_accuracy": round(trained["accuracy"], 4), "keras_test_macro_f1": round(trained["macro_f1"], 4),
        "float32_tflite_test_accuracy": v["float32"]["accuracy"], "int8_test_accuracy": v["int8"]["accuracy"],
        "int8_drop_points": report["drop_points"], "int8_agreement": report["agreement"],
        "int8_size_kib": round(v["int8"]["size_bytes"] / 1024, 1), "gate_passed": report["passed"],
        "test_images": report["images"], "load_1min_before": load_before, "load_1min_after": load_average(),
    }
    path = save(f"train_sign_digits_{args.recipe}", result)
    print(json.dumps(result, indent=2))
    print(f"\nint8 test accuracy {result['int8_test_accuracy']:.4f} "
          f"(float32 {result['float32_tflite_test_accuracy']:.4f}, keras {result['keras_test_accuracy']:.4f}); "
          f"trained in {train_s / 60:.1f} min "
          f"({train_s / BUDGET_S:.2f} of the 15-minute budget); saved {path}")


if __name__ == "__main__":
    main()
