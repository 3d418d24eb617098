"""Where an epoch of the default recipe goes: each tf.data stage alone, the model step alone, and the epoch.

Every stage is timed by itself on the sign-language digits' training split, in alternating
rounds (medians reported, so load from other processes on a shared machine hits all alike):

- ``decode``: read + decode + spec-exact resize of every image (what the first epoch, or
  ``cache = "none"``, pays per image);
- ``pipeline``: the cached epoch stream without augmentation (shuffle, batch, cast);
- ``augment``: the cached epoch stream with the recipe's augmentation (what training iterates);
- ``step``: the model's training step alone, on one resident batch (no input pipeline at all);
- ``epoch``: a trainer epoch (``fit`` on the augmented stream plus validation), cache warm.

Shares are per-image times relative to the epoch's. The epoch's images/s over the step's
images/s is the figure the input pipeline must keep near 1.

    .venv/bin/python benchmarks/experiments/train_epoch_profile.py [--rounds 3] [--recipe small_cnn]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.train_common import SIGN_DIGITS, load_average, save

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=SIGN_DIGITS)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--recipe", default="small_cnn")
    ap.add_argument("--tag", default="", help="suffix of the saved result file")
    args = ap.parse_args()
    if not args.data.is_dir():
        sys.exit(f"dataset not found: {args.data}")

    import keras
    import tensorflow as tf

    from edgevision.data.discover import discover
    from edgevision.data.loader import Stream
    from edgevision.train.backbones import build_model, set_stage, stage_of
    from edgevision.train.recipe import load_recipe
    from edgevision.train.trainer import _compile

    warnings.filterwarnings("ignore")
    recipe = load_recipe(args.recipe)
    spec = recipe.spec()
    ds = discover(args.data)
    train, val = ds.train, ds.val
    n = len(train)
    classes = len(ds.classes)
    stream = Stream(train, spec, recipe.batch_size, training=True, augment=recipe.augment, seed=recipe.seed, cache="")
    plain = Stream(train, spec, recipe.batch_size, training=True, augment=None, seed=recipe.seed, cache="")
    val_ds = Stream(val, spec, recipe.batch_size, training=False, cache="").epoch(0)
    keras.utils.set_random_seed(recipe.seed)
    model = build_model(recipe, num_classes=classes)
    stage = stage_of(recipe, 0)
    set_stage(model, recipe, stage)
    _compile(model, recipe, stage, stream.steps)
    x0, y0 = next(iter(stream.epoch(0)))
    steps = stream.steps
    resident = tf.data.Dataset.from_tensors((x0, y0)).repeat(steps)

    def drain(dataset: object) -> None:
        for _ in dataset:  # type: ignore[attr-defined]
            pass

    stages = {
        "decode": lambda e: drain(stream._decode(stream._source(None))),
        "pipeline": lambda e: drain(plain.epoch(e)),
        "augment": lambda e: drain(stream.epoch(e)),
        "step": lambda e: model.fit(resident, epochs=1, verbose=0, shuffle=False),
        "epoch": lambda e: model.fit(stream.epoch(e), validation_data=val_ds, epochs=1, verbose=0, shuffle=False),
    }
    t = time.perf_counter()
    for run in stages.values():  # warm-up: traces, fills the caches
        run(0)
    warm_s = time.perf_counter() - t
    rates: dict[str, list[float]] = {k: [] for k in stages}
    names = list(stages)
    load_start = load_average()
    for rnd in range(1, args.rounds + 1):
        order = names[rnd % len(names):] + names[:rnd % len(names)]
        for name in order:
            gc.collect()
            t = time.perf_counter()
            stages[name](rnd)
            rates[name].append(n / (time.perf_counter() - t))
        print(f"round {rnd}: " + "  ".join(f"{k} {rates[k][-1]:.0f}" for k in names) + " img/s", flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    # per-image time of a stage relative to an epoch's, median over rounds of the same-round ratio
    share = {k: statistics.median(e / r for r, e in zip(rates[k], rates["epoch"], strict=True)) for k in names}
    aug_only = statistics.median(max(0.0, 1 / a - 1 / p) * e for a, p, e in
                                 zip(rates["augment"], rates["pipeline"], rates["epoch"], strict=True))
    result = {
        "recipe": recipe.name, "images": n, "val_images": len(val), "size": recipe.size,
        "batch_size": recipe.batch_size, "rounds": args.rounds, "warm_up_s": round(warm_s, 1),
        "images_per_s_median": {k: round(v, 1) for k, v in med.items()},
        "share_of_epoch_median": {**{k: round(v, 3) for k, v in share.items() if k != "epoch"},
                                  "augmentation_alone": round(aug_only, 3)},
        "epoch_over_step": round(statistics.median(e / s for e, s in zip(rates["epoch"], rates["step"], strict=True)),
                                 3),
        "load_1min_start": load_start, "load_1min_end": load_average(),
        "tf_threads": {"intra": tf.config.threading.get_intra_op_parallelism_threads(),
                       "inter": tf.config.threading.get_inter_op_parallelism_threads()},
    }
    path = save("train_epoch_profile" + (f"_{args.tag}" if args.tag else ""), result)
    print(json.dumps(result, indent=2))
    print(f"epoch {med['epoch']:.0f} img/s, step alone {med['step']:.0f} img/s "
          f"(epoch/step {result['epoch_over_step']:.3f}); saved {path}")


if __name__ == "__main__":
    main()
