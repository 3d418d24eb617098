"""Peak memory while training on a folder much larger than the cache: it must not grow with the data.

Generates folders of N and 4N JPEG photos (default 1500 and 6000, 192x192) and trains one
epoch on each in a fresh process with a cache budget far below the decoded size, so the
images stream (decoded every epoch, never all resident). Each process reports its peak
resident set (VmHWM). The control runs the same two sizes with ``cache = "memory"``,
showing that the measurement does see data that is held in memory.

    .venv/bin/python benchmarks/experiments/train_memory.py [--n 1500] [--size 96]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.train_common import REPO, load_average, save

CHILD = """
import json, os, sys
from pathlib import Path
from rich.console import Console
sys.path.insert(0, {repo!r})
from benchmarks.lib.train_common import peak_rss_mb
from edgevision.train.recipe import Recipe
from edgevision.train.trainer import train
r = Recipe(name="memory", size={size}, epochs=1, batch_size=32, patience=0, cache={cache!r}, cache_mb={budget})
res = train(sys.argv[1], sys.argv[2], r, Console(file=open(os.devnull, "w")))
print(json.dumps({{"peak_rss_mb": peak_rss_mb(), "images": sum(json.load(open(Path(sys.argv[2]) / "run.json"))
                  ["counts"]["train"]), "cache": json.load(open(Path(sys.argv[2]) / "run.json"))["cache"],
                  "seconds": res.elapsed_s}}))
"""


def make_folder(root: Path, per_class: int, side: int, seed: int = 0) -> Path:
    """Smooth random photos (gradients, blobs, noise) in 4 classes; JPEG like a camera folder."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    for c in range(4):
        d = root / "train" / f"class{c}"
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            base = rng.uniform(0, 255, 3) + rng.uniform(-80, 80, 3) * (xx[..., None] if c % 2 else yy[..., None])
            img = np.clip(base + rng.normal(0, 12, (side, side, 3)), 0, 255).astype(np.uint8)
            cv2.circle(img, tuple(int(v) for v in rng.integers(20, side - 20, 2)), int(rng.integers(8, side // 4)),
                       tuple(int(v) for v in rng.integers(0, 255, 3)), -1)
            cv2.imwrite(str(d / f"{i:06d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    val = root / "val"
    for c in range(4):  # a small fixed validation split, the same for both sizes
        src = root / "train" / f"class{c}"
        (val / f"class{c}").mkdir(parents=True, exist_ok=True)
        for f in sorted(src.glob("*.jpg"))[:20]:
            shutil.move(str(f), val / f"class{c}" / f.name)
    return root


def measure(data: Path, out: Path, size: int, cache: str, budget: int) -> dict:
    code = CHILD.format(repo=str(REPO), size=size, cache=cache, budget=budget)
    proc = subprocess.run([sys.executable, "-c", code, str(data), str(out)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}, timeout=3600)
    if proc.returncode != 0:
        sys.exit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1500, help="images in the small folder (the large one has 4x)")
    ap.add_argument("--side", type=int, default=192, help="side of the generated photos in pixels")
    ap.add_argument("--size", type=int, default=96, help="training input size")
    ap.add_argument("--budget-mb", type=int, default=16, help="cache budget (far below the decoded folders)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ev-memory-"))
    try:
        folders = {n: make_folder(work / f"data{n}", n // 4 + 20, args.side, seed=n) for n in (args.n, 4 * args.n)}
        rows = {}
        for policy in ("auto", "memory"):
            for n, folder in folders.items():
                r = measure(folder, work / f"run-{policy}-{n}", args.size, policy, args.budget_mb)
                rows[f"{policy}-{n}"] = r
                print(f"{policy:6s} {r['images']:6d} images  cache={r['cache']:6s}  "
                      f"peak RSS {r['peak_rss_mb']:.0f} MiB ({r['seconds']:.0f} s)", flush=True)
        decoded = {n: round(n * args.size * args.size * 3 / 2**20, 1) for n in folders}
        small, large = args.n, 4 * args.n
        result = {
            "images": [small, large], "photo_side": args.side, "train_size": args.size,
            "decoded_mb": decoded, "cache_budget_mb": args.budget_mb, "runs": rows,
            "streaming_rss_ratio_4n_vs_n": round(rows[f"auto-{large}"]["peak_rss_mb"]
                                                 / rows[f"auto-{small}"]["peak_rss_mb"], 3),
            "streaming_rss_growth_mb": round(rows[f"auto-{large}"]["peak_rss_mb"]
                                             - rows[f"auto-{small}"]["peak_rss_mb"], 1),
            "control_memory_cache_growth_mb": round(rows[f"memory-{large}"]["peak_rss_mb"]
                                                    - rows[f"memory-{small}"]["peak_rss_mb"], 1),
            "load_1min_end": load_average(),
        }
        path = save("train_memory", result)
        print(json.dumps(result, indent=2))
        print(f"streaming: peak RSS x{result['streaming_rss_ratio_4n_vs_n']:.3f} for 4x the images "
              f"({result['streaming_rss_growth_mb']:+.0f} MiB; decoded data grows by "
              f"{decoded[large] - decoded[small]:.0f} MiB); control with a memory cache: "
              f"{result['control_memory_cache_growth_mb']:+.0f} MiB; saved {path}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
