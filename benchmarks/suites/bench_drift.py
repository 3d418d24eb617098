"""Drift detection measured: false alarms on in-domain photos, detection rate and delay on what should alarm.

A small CNN trained on the sign-language digits (train split) and converted to int8 with its reference
profile measured on the val split (cached after the first run; ``--profiled-model`` takes such a .tflite
instead). Every image of the test split is measured once through the device runtime, as is, and
changed the ways a camera changes: dark (a quarter of the light, some sensor noise), a covered lens (dark
noise), swapped colour channels (an RGB/BGR mix-up), heavy blur (Gaussian, sigma 3 px at 100 px); and
"another dataset" (the demo's synthetic shapes); and two milder ones: dim (60 % of the light) and a slight
blur (sigma 1.2 px). Streams replay those measurements through the drift monitor exactly as a run feeds it,
for each setting of a small grid (window, threshold):

- false alarms: in-domain streams -> drifting verdicts per 1000 verdicts: test photos drawn at random;
  "steady scenes" (one photo held for 100-300 frames with sensor noise, as a camera watching one thing);
  "passing occlusions" (random photos, and every 150-250 frames someone passes in front of the lens for
  10-30 frames, up to a second at 30 FPS: a blip, not a drift);
- detection: a full window of in-domain frames, then one kind of change: detected within 300 frames (%),
  and the median and 90th percentile delay in frames.

It also times the monitor's work per frame on a 640x480 camera frame (the input statistics and the window),
as a share of a 10 ms frame (100 FPS). It prints one table per setting and the setting these numbers choose
(no false alarm, the most detections, then the shortest worst median delay, then the larger window) next to
the defaults of ``DriftConfig``.

    .venv/bin/python benchmarks/suites/bench_drift.py [--trials 40] [--profiled-model M.tflite] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the checkout's edgevision

from edgevision.model.reference_profile import profile_in_model  # noqa: E402
from edgevision.pipeline.drift import DriftMonitor  # noqa: E402
from edgevision.pipeline.drift_config import DriftConfig  # noqa: E402
from edgevision.runtime.classifier import Classifier, ClassifierOptions  # noqa: E402
from edgevision.runtime.images import read_image  # noqa: E402
from edgevision.runtime.input_stats import input_stats  # noqa: E402

MAX_DELAY = 300
GRID = [(w, t) for w in (30, 50, 100, 200) for t in (0.5, 1.0, 2.0)]
Measured = list[tuple[float, int, tuple[float, ...]]]  # (top-1 confidence, label index, input statistics) per frame


def sign_digits() -> Path:
    if os.environ.get("EDGEVISION_SHARED_DATA"):
        return Path(os.environ["EDGEVISION_SHARED_DATA"])
    for parent in REPO.parents:
        if (parent / "shared" / "data" / "sign-language-digits").is_dir():
            return parent / "shared" / "data" / "sign-language-digits"
    sys.exit("the sign-language digits were not found: set $EDGEVISION_SHARED_DATA")


def cache_dir() -> Path:
    base = Path(os.environ.get("EDGEVISION_BENCH_CACHE") or Path.home() / ".cache" / "edgevision" / "benchmarks")
    return base / "drift"


def trained_model(data: Path, epochs: int) -> Path:
    """The int8 sign-digit model with its profile (val split), trained and converted once, then cached."""
    out = cache_dir() / f"sign_digits_small_cnn_e{epochs}"
    model = out / "export" / "sign_digits_int8.tflite"
    if model.is_file():
        return model
    from rich.console import Console

    from edgevision.convert.conversion import ConvertOptions, convert_run
    from edgevision.train.recipe import load_recipe
    from edgevision.train.trainer import train

    con = Console(stderr=True)
    recipe = load_recipe("small_cnn").override(name="sign_digits", size=64, epochs=epochs, weights="none")
    print(f"training a small CNN on {data} ({epochs} epochs, once; cached in {out})", file=sys.stderr)
    result = train(data, out, recipe, con)
    report = convert_run(result.out_dir, ConvertOptions(quant="int8", split="val", max_drop=100.0, latency_runs=5,
                                                        out=out / "export"), con)
    return Path(report["variants"]["int8"]["path"])


def changed(rgb: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    import cv2

    if kind == "as is":
        return rgb
    if kind == "dark":
        noisy = rgb.astype(np.float32) * 0.25 + rng.normal(0, 2.0, rgb.shape)
        return np.clip(noisy, 0, 255).astype(np.uint8)
    if kind == "covered lens":
        return np.clip(rng.normal(4.0, 2.0, rgb.shape), 0, 255).astype(np.uint8)
    if kind == "swapped channels":
        return np.ascontiguousarray(rgb[..., ::-1])
    if kind == "heavy blur":
        return cv2.GaussianBlur(rgb, (0, 0), 3.0)
    if kind == "dim":
        return np.clip(rgb.astype(np.float32) * 0.6 + rng.normal(0, 1.0, rgb.shape), 0, 255).astype(np.uint8)
    if kind == "slight blur":
        return cv2.GaussianBlur(rgb, (0, 0), 1.2)
    raise ValueError(kind)


def measure(clf: Classifier, images: list[np.ndarray]) -> Measured:
    out: Measured = []
    for rgb in images:
        top = clf.classify(rgb, k=1)
        out.append((top[0].score if top else 0.0, top[0].index if top else -1, input_stats(rgb, "RGB")))
    return out


def noisy(m: tuple[float, int, tuple[float, ...]], rng: np.random.Generator) -> tuple[float, int, tuple[float, ...]]:
    """A held frame with sensor noise: each statistic moved by a little (1 % brightness/contrast, etc.)."""
    conf, label, s = m
    jitter = rng.normal(0, 1, 5) * np.array([1.0, 0.5, 0.002, 0.002, 0.01])
    return conf, label, tuple(float(v + d) for v, d in zip(s, jitter, strict=True))


def false_alarms(profile, config: DriftConfig, indomain: Measured, covered: Measured, rng: np.random.Generator,
                 streams: int, length: int) -> dict[str, tuple[int, int]]:
    """(drifting verdicts, verdicts) for random in-domain photos, steady in-domain scenes, passing occlusions."""
    out = {}
    for mode in ("random photos", "steady scenes", "passing occlusions"):
        alarms = verdicts = 0
        for _ in range(streams):
            monitor = DriftMonitor(profile, config)
            frames: Measured = []
            while len(frames) < length:
                if mode == "random photos":
                    frames.append(indomain[rng.integers(len(indomain))])
                elif mode == "steady scenes":
                    held = indomain[rng.integers(len(indomain))]
                    frames += [noisy(held, rng) for _ in range(int(rng.integers(100, 301)))]
                else:
                    frames += [indomain[rng.integers(len(indomain))] for _ in range(int(rng.integers(150, 251)))]
                    frames += [covered[rng.integers(len(covered))] for _ in range(int(rng.integers(10, 31)))]
            for conf, label, stats in frames[:length]:
                v = monitor.observe_values(conf, label, stats)
                if v is not None:
                    verdicts += 1
                    alarms += v.drifting
        out[mode] = (alarms, verdicts)
    return out


def delays(profile, config: DriftConfig, indomain: Measured, shifted: Measured, rng: np.random.Generator,
           trials: int) -> list[int | None]:
    """Frames from the change to the first drifting verdict, per trial (None: not within MAX_DELAY)."""
    out: list[int | None] = []
    for _ in range(trials):
        monitor = DriftMonitor(profile, config)
        for _ in range(config.window):
            conf, label, stats = indomain[rng.integers(len(indomain))]
            monitor.observe_values(conf, label, stats)
        found = None
        for i in range(MAX_DELAY):
            conf, label, stats = shifted[rng.integers(len(shifted))]
            v = monitor.observe_values(conf, label, stats)
            if v is not None and v.drifting:
                found = i + 1
                break
        out.append(found)
    return out


def monitor_cost(profile, frames: int = 400, batches: int = 5) -> float:
    """µs per frame of DriftMonitor.observe on 640x480 BGR frames (statistics included): the fastest of a few
    batches, since other load on the machine only ever adds time."""
    from edgevision.pipeline.events import LabelEvent
    from edgevision.runtime.frames import Frame
    from edgevision.runtime.postprocess import Prediction

    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(4)]
    monitor = DriftMonitor(profile, DriftConfig())
    labels = profile.labels or ("x",)
    events = [LabelEvent.classified(i, "cam", (Prediction(labels[0], 0.9, 0),), 0.0, 0.0, {}) for i in range(8)]
    pairs = [(events[i % 8], Frame(images[i % 4], i, "cam", 0.0, 0.0, "BGR")) for i in range(frames)]
    for e, f in pairs[:100]:
        monitor.observe(e, f)
    best = float("inf")
    for _ in range(batches):
        t0 = time.perf_counter()
        for e, f in pairs:
            monitor.observe(e, f)
        best = min(best, (time.perf_counter() - t0) / frames * 1e6)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiled-model", type=Path, dest="model",
                    help="an int8 .tflite of the sign-language digits carrying a reference profile (default: trained)")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--trials", type=int, default=40, help="detection trials per kind and setting")
    ap.add_argument("--streams", type=int, default=10, help="in-domain streams per mode and setting")
    ap.add_argument("--length", type=int, default=2000, help="frames per in-domain stream")
    ap.add_argument("--quick", action="store_true", help="a smoke test: few trials and streams")
    args = ap.parse_args()
    if args.quick:
        args.trials, args.streams, args.length = 8, 2, 600
    data = sign_digits()
    model = args.model or trained_model(data, args.epochs)
    clf = Classifier(model, options=ClassifierOptions(threads=1))
    profile = profile_in_model(clf.artifact.data, str(model))
    if profile is None:
        sys.exit(f"{model}: carries no reference profile (convert it with this edgevision)")
    rng = np.random.default_rng(0)
    test = [read_image(p) for p in sorted((data / "test").rglob("*")) if p.suffix.lower() in (".jpg", ".png")]
    from edgevision.demo.shapes import generate

    shapes_dir = generate(cache_dir() / "shapes", seed=3, size=100, per_split={"train": 0, "val": 0, "test": 40})
    others = [read_image(p) for p in sorted((shapes_dir / "test").rglob("*.png"))]
    t0 = time.perf_counter()
    indomain = measure(clf, test)
    kinds = {kind: measure(clf, [changed(img, kind, rng) for img in test])
             for kind in ("dark", "covered lens", "swapped channels", "heavy blur")}
    kinds["another dataset"] = measure(clf, others)
    for kind in ("dim", "slight blur"):
        kinds[kind] = measure(clf, [changed(img, kind, rng) for img in test])
    print(f"model: {model.name} (profile: {profile.origin}); test split: {len(test)} photos; another dataset: "
          f"{len(others)} shapes images; measured in {time.perf_counter() - t0:.1f} s")
    acc = statistics.mean(m[1] == int(p.parent.name) for m, p in zip(indomain, sorted(
        p for p in (data / "test").rglob("*") if p.suffix.lower() in (".jpg", ".png")), strict=True))
    cost = monitor_cost(profile)
    print(f"monitor cost: {cost:.1f} µs per 640x480 frame (fastest of 5 batches) = {cost / 100:.2f} % of a 10 ms "
          "frame (100 FPS)")
    print(f"test accuracy {acc:.3f}; median top-1 confidence as is {statistics.median(m[0] for m in indomain):.3f}, "
          + ", ".join(f"{k} {statistics.median(m[0] for m in v):.3f}" for k, v in kinds.items()))

    results = []
    for window, threshold in GRID:
        config = DriftConfig(window=window, min_frames=window // 2, threshold=threshold)
        fa = false_alarms(profile, config, indomain, kinds["covered lens"], rng, args.streams, args.length)
        det = {kind: delays(profile, config, indomain, shifted, rng, args.trials) for kind, shifted in kinds.items()}
        results.append((window, threshold, fa, det))
        print(f"\nwindow {window}, threshold {threshold:g} (verdict every {config.every} frames, minimum "
              f"{config.min_frames})")
        print(f"  {'stream':<18} {'false alarms / 1000 verdicts':>30}")
        for mode, (alarms, verdicts) in fa.items():
            print(f"  {mode:<18} {1000 * alarms / max(1, verdicts):>30.1f}   ({alarms}/{verdicts})")
        print(f"  {'change':<18} {'detected':>9} {'median delay':>13} {'p90 delay':>10}  (frames)")
        for kind, ds in det.items():
            found = sorted(d for d in ds if d is not None)
            p90 = found[min(len(found) - 1, int(0.9 * len(found)))] if found else None
            print(f"  {kind:<18} {100 * len(found) / len(ds):>8.0f}% {statistics.median(found) if found else '-':>13}"
                  f" {p90 if p90 is not None else '-':>10}")

    def score(r: tuple) -> tuple:
        window, _threshold, fa, det = r
        false = sum(a for a, _ in fa.values())
        missed = sum(d is None for ds in det.values() for d in ds)
        worst = max(statistics.median([d if d is not None else MAX_DELAY for d in ds]) for ds in det.values())
        return (false, missed, worst, -window)

    best = min(results, key=score)
    d = DriftConfig()
    print(f"\nchosen by these numbers: window {best[0]}, threshold {best[1]:g} (false alarms "
          f"{score(best)[0]}, missed {score(best)[1]}, worst median delay {score(best)[2]:g} frames); "
          f"DriftConfig defaults: window {d.window}, threshold {d.threshold:g}"
          + ("" if (best[0], best[1]) == (d.window, d.threshold) else "  <- they differ"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
