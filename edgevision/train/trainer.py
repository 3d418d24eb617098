"""[TF] Train a classifier from a folder of images into a run directory.

The run directory is the hand-off to the converter: the Keras model, the labels, the
exact sample lists of each split (so calibration and the accuracy gate use the right
images), the recipe and the preprocessing spec.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from edgevision import __version__
from edgevision.data.discover import Dataset, discover, ensure_val
from edgevision.data.loader import SkipLog, make_dataset
from edgevision.errors import BadInput
from edgevision.metrics import classification_report
from edgevision.model.labels import write_labels
from edgevision.train.backbones import build_model
from edgevision.train.progress import rich_progress_callback
from edgevision.train.recipe import Recipe
from edgevision.train.rundir import DATASET_FILE, HISTORY_FILE, LABELS_FILE, MODEL_FILE, RUN_FILE


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    model_path: Path
    classes: tuple[str, ...]
    metrics: dict[str, Any]
    history: dict[str, list[float]]
    skipped: int
    elapsed_s: float


def train(data: str | Path, out_dir: str | Path, recipe: Recipe, console: Console | None = None) -> TrainResult:
    import keras

    con = console or Console(stderr=True)
    t0 = time.perf_counter()
    ds = ensure_val(discover(data, recipe.val_fraction, recipe.test_fraction, recipe.seed),
                    recipe.val_fraction, recipe.seed)
    if not ds.val:
        raise BadInput(f"{data}: too few images to hold out a validation split")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_labels(out / LABELS_FILE, ds.classes)
    (out / DATASET_FILE).write_text(ds.to_json(), encoding="utf-8")
    con.print(f"data: {len(ds.classes)} classes, {len(ds.train)} train / {len(ds.val)} val / {len(ds.test)} test "
              f"images ({ds.split_mode} split)")

    keras.utils.set_random_seed(recipe.seed)
    spec, skips = recipe.spec(), SkipLog()
    train_ds = make_dataset(ds.train, spec, recipe.batch_size, training=True, augment=recipe.augment,
                            seed=recipe.seed, skips=skips)
    val_ds = make_dataset(ds.val, spec, recipe.batch_size, training=False, skips=skips)
    model = build_model(recipe.arch, recipe.size, len(ds.classes), recipe.dropout, recipe.seed)
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    steps = -(-len(ds.train) // recipe.batch_size)
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=recipe.patience, restore_best_weights=True),
        rich_progress_callback(recipe.epochs, steps, con),
    ]
    with warnings.catch_warnings():
        # the stream's length is unknown after skipping unreadable files; Keras warns at each epoch end
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        fit = model.fit(train_ds, validation_data=val_ds, epochs=recipe.epochs, callbacks=callbacks, verbose=0,
                        shuffle=False)
    history = {k: [float(v) for v in vals] for k, vals in fit.history.items()}
    if skips.count:
        con.print(f"[yellow]skipped {skips.count} unreadable image(s)[/]: "
                  + ", ".join(sorted(skips.paths)[:5]) + (" ..." if skips.count > 5 else ""))

    split_name, _ = ds.held_out()
    metrics = {"val": evaluate_keras(model, ds, "val", recipe), split_name: evaluate_keras(model, ds, split_name,
                                                                                        recipe)}
    model_path = out / MODEL_FILE
    model.save(model_path)
    (out / HISTORY_FILE).write_text(json.dumps(history, indent=2), encoding="utf-8")
    elapsed = time.perf_counter() - t0
    run = {
        "edgevision_version": __version__, "recipe": recipe.to_dict(), "preprocess": spec.to_dict(),
        "classes": list(ds.classes), "data": str(Path(data).resolve()), "counts": ds.counts(),
        "split_mode": ds.split_mode, "held_out": split_name, "epochs_run": len(history.get("loss", [])),
        "skipped": sorted(skips.paths), "metrics": metrics, "elapsed_s": round(elapsed, 2),
    }
    (out / RUN_FILE).write_text(json.dumps(run, indent=2), encoding="utf-8")
    return TrainResult(out, model_path, ds.classes, metrics, history, skips.count, elapsed)


def evaluate_keras(model: Any, ds: Dataset, split: str, recipe: Recipe) -> dict[str, Any]:
    """Metrics of the Keras model on one split (the float reference before conversion)."""
    samples = ds.split(split)
    if not samples:
        return {}
    tfds = make_dataset(samples, recipe.spec(), recipe.batch_size, training=False, cache=None)
    y_true, y_pred = [], []
    for x, y in tfds:
        y_pred.append(np.argmax(model(x, training=False).numpy(), axis=1))
        y_true.append(y.numpy())
    return classification_report(np.concatenate(y_true), np.concatenate(y_pred), ds.classes)
