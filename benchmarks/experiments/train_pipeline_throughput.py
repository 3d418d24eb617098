"""Is the input pipeline the bottleneck? Streaming vs the same images pre-loaded as in-memory tensors.

One model architecture (the default recipe's), one set of images (the sign-language digits'
training split), identical initial weights for every variant. Each round trains one epoch
of every variant in turn, so machine-load drift hits all of them alike; round 0 is warm-up
(tracing, and filling the caches). The figures, measured in one run: the median over
rounds of (streaming images/s) / (in-memory images/s), and the ratio of the best epochs
(the least disturbed by other processes on a shared machine).

Variants: ``tensors`` (baseline: uint8 images decoded beforehand, held as one tensor),
``stream-memory`` (the default for a dataset that fits the cache budget), ``stream-disk``
(decoded pixels cached on disk: a dataset larger than memory), ``stream-none`` (decode
and resize every image every epoch). ``--augment`` applies the recipe's augmentation in
every variant (the same stateless op), which measures the pipeline with its usual load.

    .venv/bin/python benchmarks/experiments/train_pipeline_throughput.py [--rounds 5] [--augment]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.train_common import SIGN_DIGITS, load_average, save

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=SIGN_DIGITS)
    ap.add_argument("--rounds", type=int, default=10, help="measured rounds after the warm-up round")
    ap.add_argument("--augment", action="store_true")
    ap.add_argument("--recipe", default="small_cnn")
    args = ap.parse_args()
    if not args.data.is_dir():
        sys.exit(f"dataset not found: {args.data}")

    import keras
    import numpy as np
    import tensorflow as tf

    from edgevision.data.augment import augment_batch, epoch_seed
    from edgevision.data.discover import discover
    from edgevision.data.loader import Stream, load_pixels
    from edgevision.train.backbones import build_model
    from edgevision.train.recipe import load_recipe

    warnings.filterwarnings("ignore")
    load_start = load_average()
    recipe = load_recipe(args.recipe)
    spec = recipe.spec()
    samples = discover(args.data).train
    aug = recipe.augment if args.augment else None
    t_load = time.perf_counter()
    pixels = np.stack([load_pixels(s.path, spec)[0] for s in samples])
    labels = np.array([s.label for s in samples], np.int32)
    load_s = time.perf_counter() - t_load
    images = tf.constant(pixels)  # the baseline: every decoded image resident as one uint8 tensor
    tensor_labels = tf.constant(labels)

    def tensors(epoch: int) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((images, tensor_labels)).shuffle(len(samples),
                                                                                  seed=epoch_seed(1, epoch))
        ds = ds.batch(recipe.batch_size)
        eseed = epoch_seed(1, epoch)
        if aug is not None:
            return ds.enumerate().map(lambda i, b: (augment_batch(tf.cast(b[0], tf.float32),
                                                                  tf.stack([tf.constant(eseed, tf.int64), i]), aug),
                                                    b[1]), num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)
        return ds.map(lambda x, y: (tf.cast(x, tf.float32), y)).prefetch(2)

    tmp = Path(tempfile.mkdtemp(prefix="ev-throughput-"))
    streams = {name: Stream(samples, spec, recipe.batch_size, training=True, augment=aug, seed=1, cache=cache)
               for name, cache in (("stream-memory", ""), ("stream-disk", str(tmp / "pixels")),
                                   ("stream-none", None))}
    variants = {"tensors": tensors, **{name: s.epoch for name, s in streams.items()}}
    keras.utils.set_random_seed(recipe.seed)
    init = build_model(recipe, num_classes=len(set(labels.tolist()))).get_weights()
    models = {}
    for name in variants:
        m = build_model(recipe, num_classes=len(set(labels.tolist())))
        m.set_weights(init)
        m.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
        models[name] = m

    rates: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for rnd in range(args.rounds + 1):
        order = names[rnd % len(names):] + names[:rnd % len(names)]  # no variant always follows another
        for name in order:
            make = variants[name]
            gc.collect()  # the previous epoch's iterator (and its decode threads) is gone before timing
            t = time.perf_counter()
            models[name].fit(make(rnd), epochs=1, verbose=0, shuffle=False)
            rate = len(samples) / (time.perf_counter() - t)
            if rnd > 0:
                rates[name].append(rate)
        print(f"round {rnd}{' (warm-up)' if rnd == 0 else ''}: "
              + "  ".join(f"{n} {rates[n][-1]:.0f} img/s" for n in variants if rnd > 0), flush=True)

    ratios = {name: round(statistics.median(r / b for r, b in zip(rates[name], rates["tensors"], strict=True)), 3)
              for name in variants if name != "tensors"}
    result = {
        "images": len(samples), "size": recipe.size, "recipe": recipe.name, "augment": bool(aug),
        "rounds": args.rounds, "decode_all_s": round(load_s, 2),
        "images_per_s_median": {n: round(statistics.median(r), 1) for n, r in rates.items()},
        "images_per_s_best": {n: round(max(r), 1) for n, r in rates.items()},
        "ratio_vs_tensors_median": ratios,
        "ratio_vs_tensors_best": {n: round(max(rates[n]) / max(rates["tensors"]), 3) for n in ratios},
        "load_1min_start": load_start, "load_1min_end": load_average(),
    }
    path = save("train_pipeline_throughput" + ("_augment" if aug else ""), result)
    print(json.dumps(result, indent=2))
    print(f"streaming / in-memory tensors, median of {args.rounds} rounds: "
          + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items()) + "; best epochs: "
          + ", ".join(f"{k} {v:.3f}" for k, v in result["ratio_vs_tensors_best"].items()) + f"; saved {path}")


if __name__ == "__main__":
    main()
