"""[TF] Train a classifier from a folder of images (or TFRecord shards) into a run directory.

The run directory is the hand-off to the converter: the Keras model, the labels, the
exact sample lists of each split (so calibration and the accuracy gate use the right
images), the recipe and the preprocessing spec. Every finished epoch is checkpointed, so
``resume=True`` continues a killed run; the epoch loop is ours (one ``fit`` per epoch) so
that every epoch's shuffle and augmentation derive from (seed, epoch) alone.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rich.console import Console

from edgevision.data.discover import Dataset
from edgevision.data.loader import SkipLog, Stream, image_bytes, resolve_cache
from edgevision.data.source import TrainingData, listing_for_run, open_data
from edgevision.errors import BadInput
from edgevision.metrics import class_weights
from edgevision.model.labels import read_labels, write_labels
from edgevision.train.backbones import build_model, set_stage, stage_of
from edgevision.train.checkpoint import Checkpoints, TrainState, save_model_atomic, write_text_atomic
from edgevision.train.distribute import Distribution, is_chief, make_distribution
from edgevision.train.evaluate import evaluate_keras
from edgevision.train.pretrained import choose
from edgevision.train.progress import epoch_line, rich_progress_callback
from edgevision.train.recipe import Recipe
from edgevision.train.rundir import DATASET_FILE, HISTORY_FILE, LABELS_FILE, MODEL_FILE, RUN_FILE
from edgevision.version import __version__

CACHE_DIR = "cache"
RESUMABLE_CHANGES = {"epochs", "fine_tune_epochs", "patience"}   # what --resume may extend


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    model_path: Path
    classes: tuple[str, ...]
    metrics: dict[str, Any]
    history: dict[str, list[float]]
    skipped: int
    elapsed_s: float
    best_epoch: int = -1
    resumed_at: tuple[int, ...] = ()


def train(data: str | Path, out_dir: str | Path, recipe: Recipe | None, console: Console | None = None, *,
          resume: bool = False, strategy: str = "default", add: tuple[str | Path, ...] = ()) -> TrainResult:
    """Train ``recipe`` on ``data`` into ``out_dir``.

    ``resume`` continues the run's unfinished training from its last finished epoch; its
    recipe is the saved one (``recipe`` None), or a copy that only extends epochs/patience.
    ``add``: labelled folders (field samples, corrected) folded into the training split.
    """
    if add and resume:
        raise BadInput("--add starts a new run on more images; --resume continues one on the images it had")
    con = console or Console(stderr=True)
    t0 = time.perf_counter()
    out = Path(out_dir)
    chief = is_chief(strategy)  # refusals below come before TensorFlow is even imported
    scratch = None if chief else Path(tempfile.mkdtemp(prefix="edgevision-worker-"))
    ckpt = Checkpoints(out, scratch)
    init = None
    if not resume and recipe is not None:  # transfer learning when the weights can be had, else its fallback
        if not Path(data).exists():  # a mistyped path is told at once, not after a download attempt
            raise BadInput(f"{data}: data folder not found")
        init = choose(recipe)
        recipe = init.recipe
    state, recipe = _start_state(ckpt, out, recipe, resume)
    if init is not None:
        state.init = init.to_dict()
        con.print(init.line, highlight=False)
    if state.finished:
        done = finished_result(out)
        if done is not None:
            con.print(f"{out}: already finished ({state.epochs_done} epochs); nothing to resume")
            return done
    elapsed0 = state.elapsed_s
    tdata = _open(data, out, recipe, resume, add)
    import keras

    dist = make_distribution(strategy)
    if not resume:
        ckpt.clear()  # a finished run in the same folder is replaced (only after the new data opened fine)
    if not resume and dist.is_chief:
        out.mkdir(parents=True, exist_ok=True)
        write_labels(out / LABELS_FILE, tdata.classes)
        listing = listing_for_run(tdata, out)
        (out / DATASET_FILE).write_text(listing.to_json(out), encoding="utf-8")
    con.print(f"data: {len(tdata.classes)} classes, {len(tdata.train)} train / {len(tdata.val)} val / "
              f"{len(tdata.test)} test images ({tdata.kind}, {tdata.split_mode} split)"
              + (f"; {tdata.added} labelled images added to train from {', '.join(map(str, add))}" if add else "")
              + (f"; {dist.replicas} replicas ({dist.name})" if dist.name != "default" else ""))

    keras.utils.set_random_seed(recipe.seed)
    skips = SkipLog()
    skips.reasons.update(state.skipped)
    skips.paths.update(state.skipped)
    cache = _cache(recipe, tdata, out, resume)
    weights = class_weights(tdata.class_counts()) if recipe.class_weight == "balanced" else None

    with dist.strategy.scope():
        if state.epochs_done:
            model = ckpt.load_model(state)
            compiled = state.history.get("stage", [""])[-1] if state.history.get("stage") else ""
            con.print(f"resuming after epoch {state.epochs_done}/{recipe.total_epochs} "
                      f"(best val accuracy {state.best or 0:.4f} at epoch {state.best_epoch + 1})")
        else:
            model, compiled = build_model(recipe, num_classes=len(tdata.classes)), ""
    runner = _runner(model, recipe, tdata, dist, cache, skips, weights)
    try:
        _epochs(model, compiled, recipe, state, ckpt, dist, runner, skips, con, t0 - elapsed0)
    except KeyboardInterrupt:
        con.print(f"[yellow]interrupted[/]: {state.epochs_done} finished epoch(s) are saved; continue with "
                  f"edgevision train {data} --out {out} --resume")
        raise
    ckpt.restore_best(model, state)
    if skips.count:
        con.print(f"[yellow]skipped {skips.count} unreadable image(s)[/]: "
                  + ", ".join(sorted(skips.paths)[:5]) + (" ..." if skips.count > 5 else ""))
    return _finish(model, recipe, tdata, state, skips, out, dist, ckpt, cache, data, t0 - elapsed0)


def saved_recipe(out: str | Path) -> Recipe:
    """The recipe of the run in ``out`` (what ``--resume`` continues with)."""
    ckpt = Checkpoints(Path(out))
    if not ckpt.exists():
        raise BadInput(f"{out}: nothing to resume (no {Path(out) / 'checkpoints' / 'state.json'}); "
                       "train without --resume")
    return Recipe.from_dict(ckpt.load_state().recipe, str(ckpt.state_path))


def _start_state(ckpt: Checkpoints, out: Path, recipe: Recipe | None, resume: bool) -> tuple[TrainState, Recipe]:
    if not resume:
        if recipe is None:
            raise BadInput("a recipe is needed to start a run")
        if ckpt.exists() and ckpt.writer:
            old = ckpt.load_state()
            if not old.finished:
                raise BadInput(f"{out}: holds an unfinished run ({old.epochs_done} epochs done); continue it with "
                               "--resume, or delete the folder / choose another --out to start over")
        return TrainState(recipe=recipe.to_dict()), recipe
    if not ckpt.exists():
        raise BadInput(f"{out}: nothing to resume (no {ckpt.state_path.relative_to(out)}); train without --resume")
    state = ckpt.load_state()
    saved = Recipe.from_dict(state.recipe, str(ckpt.state_path))
    recipe = recipe or saved
    changed = sorted(f.name for f in fields(Recipe) if getattr(saved, f.name) != getattr(recipe, f.name))
    refused = [k for k in changed if k not in RESUMABLE_CHANGES and k != "name"]
    if refused:
        raise BadInput(f"--resume continues the run's own recipe; these settings differ: {', '.join(refused)} "
                       f"(only {', '.join(sorted(RESUMABLE_CHANGES))} may change when resuming)")
    resumed = saved.override(**{k: getattr(recipe, k) for k in changed if k in RESUMABLE_CHANGES})
    state.recipe = resumed.to_dict()
    state.resumed_at.append(state.epochs_done)
    if state.epochs_done < resumed.total_epochs:
        state.finished = False
    return state, resumed


def _open(data: str | Path, out: Path, recipe: Recipe, resume: bool, add: tuple[str | Path, ...] = ()) -> TrainingData:
    tdata = open_data(data, recipe.split(), add)
    if not resume:
        return tdata
    labels = read_labels(out / LABELS_FILE)
    if tuple(labels) != tdata.classes:
        raise BadInput(f"{data}: classes differ from the run being resumed ({', '.join(labels[:5])}...)")
    if tdata.folder is not None:  # the same images as before, even if files were added since
        ds = Dataset.from_json((out / DATASET_FILE).read_text(encoding="utf-8"), out)
        tdata = TrainingData(tdata.root, "folder", ds.classes, ds.train, ds.val, ds.test, ds.split_mode, folder=ds)
    return tdata


def _cache(recipe: Recipe, tdata: TrainingData, out: Path, resume: bool) -> str | None:
    cache_dir = out / CACHE_DIR
    if cache_dir.is_dir() and (not resume or any(cache_dir.glob("*.lockfile"))):
        shutil.rmtree(cache_dir)  # stale, or half-written by a killed run
    images = len(tdata.train) + len(tdata.val)
    return resolve_cache(recipe.cache, images, recipe.spec(), recipe.cache_mb,
                         cache_dir if recipe.cache in ("disk",) else None)


def _compile(model: Any, recipe: Recipe, stage: str, steps: int) -> None:
    import keras

    fine = stage == "fine_tune"
    lr: Any = recipe.fine_tune_learning_rate if fine else recipe.learning_rate
    stage_epochs = recipe.fine_tune_epochs if fine else recipe.epochs
    if recipe.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, stage_epochs * steps))
    wd = recipe.weight_decay or None
    if recipe.optimizer == "adam":
        opt = keras.optimizers.Adam(lr, weight_decay=wd)
    elif recipe.optimizer == "adamw":
        opt = keras.optimizers.AdamW(lr, weight_decay=recipe.weight_decay)
    else:
        opt = keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=wd)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])


class _FitRunner:
    """One Keras ``fit`` per epoch, on that epoch's (seed, epoch)-determined stream."""

    def __init__(self, model: Any, train: Stream, val: Any, weights: dict[int, float] | None) -> None:
        self.model, self.train, self.val, self.weights = model, train, val, weights
        self.steps, self.images = train.steps, train.size

    def reset(self) -> None:
        """Nothing to redo after a recompile: ``fit`` retraces by itself."""

    def fit_epoch(self, epoch: int, progress: Any) -> dict[str, float]:
        with warnings.catch_warnings():
            # the stream's length is unknown after skipping unreadable files; Keras warns at each epoch end
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            fit = self.model.fit(self.train.epoch(epoch), validation_data=self.val, epochs=1,
                                 class_weight=self.weights, callbacks=[progress], verbose=0, shuffle=False)
        return {k: float(v[-1]) for k, v in fit.history.items()}


def _runner(model: Any, recipe: Recipe, tdata: TrainingData, dist: Distribution, cache: str | None,
            skips: SkipLog, weights: dict[int, float] | None) -> Any:
    spec = recipe.spec()
    if cache and dist.workers > 1:  # workers on one machine must not share a disk cache
        cache = f"{cache}-worker{dist.worker_index}"
    val_cache = cache if not cache else str(Path(cache).with_name(Path(cache).name.replace("pixels", "val-pixels")))
    val = Stream(tdata.val, spec, recipe.batch_size, training=False, cache=val_cache, skips=skips).epoch(0)
    if dist.name != "multiworker":
        train_stream = Stream(tdata.train, spec, recipe.batch_size, training=True, augment=recipe.augment,
                              seed=recipe.seed, cache=cache, skips=skips)
        return _FitRunner(model, train_stream, val, weights)
    from edgevision.train.multiworker import MultiWorkerLoop

    streams: dict[tuple[Any, ...], Stream] = {}  # one per shard: its cache then serves every epoch

    def make_stream(shard: tuple[int, int], batch: int) -> Stream:
        key = (shard, batch)
        if key not in streams:
            streams[key] = Stream(tdata.train, spec, batch, training=True, augment=recipe.augment, seed=recipe.seed,
                                  cache=cache and f"{cache}-{shard[1]}", skips=skips, shard=shard)
        return streams[key]

    return MultiWorkerLoop(model, dist.strategy, make_stream, val, recipe.batch_size, len(tdata.train), weights,
                           len(tdata.classes))


def _epochs(model: Any, compiled: str, recipe: Recipe, state: TrainState, ckpt: Checkpoints, dist: Distribution,
            runner: Any, skips: SkipLog, con: Console, t0: float) -> None:
    total = recipe.total_epochs
    for epoch in range(state.epochs_done, total):
        stage = stage_of(recipe, epoch)
        if stage in state.stopped_stages:
            continue
        if stage != compiled:
            with dist.strategy.scope():
                trainable = set_stage(model, recipe, stage)
                _compile(model, recipe, stage, runner.steps)
            runner.reset()
            if compiled or stage == "fine_tune":
                con.print(f"[bold]{stage}[/]: {trainable} backbone layers train at lr "
                          f"{recipe.fine_tune_learning_rate if stage == 'fine_tune' else recipe.learning_rate:g}")
            compiled, state.wait = stage, 0
        tick = time.perf_counter()
        logs = runner.fit_epoch(epoch, rich_progress_callback(total, runner.steps, con, epoch_offset=epoch,
                                                              stage=stage))
        seconds = time.perf_counter() - tick
        val_acc = logs.get("val_accuracy", 0.0)
        improved = state.best is None or val_acc > state.best
        if improved:
            state.best, state.best_epoch, state.wait = val_acc, epoch, 0
        else:
            state.wait += 1
        for k, v in {**logs, "epoch": float(epoch), "seconds": seconds}.items():
            state.history.setdefault(k, []).append(v)
        state.history.setdefault("stage", []).append(stage)  # type: ignore[arg-type]
        state.epochs_done = epoch + 1
        state.skipped = dict(skips.reasons)
        state.elapsed_s = time.perf_counter() - t0
        if recipe.patience and state.wait >= recipe.patience:
            state.stopped_stages.append(stage)
        ckpt.save(model, state, improved)
        con.print(epoch_line(epoch, total, stage, logs, seconds, runner.images, improved), highlight=False)
        if stage in state.stopped_stages:
            con.print(f"early stop: no val accuracy gain in {recipe.patience} epochs"
                      + (" (moving on to fine-tuning)" if stage == "head" and recipe.fine_tune_epochs else ""))


def _finish(model: Any, recipe: Recipe, tdata: TrainingData, state: TrainState, skips: SkipLog, out: Path,
            dist: Distribution, ckpt: Checkpoints, cache: str | None, data: str | Path, t0: float) -> TrainResult:
    spec = recipe.spec()
    split_name, held = tdata.held_out()
    metrics = {"val": evaluate_keras(model, tdata.val, tdata.classes, spec, recipe.batch_size)}
    if split_name != "val":
        metrics[split_name] = evaluate_keras(model, held, tdata.classes, spec, recipe.batch_size)
    history = {k: v for k, v in state.history.items() if k != "stage"}
    elapsed = time.perf_counter() - t0
    target = out if dist.is_chief else ckpt.write_dir.parent  # other workers write to a scratch folder
    model_path = target / MODEL_FILE
    save_model_atomic(model, model_path, state.epochs_done)
    if not dist.is_chief:
        shutil.rmtree(ckpt.write_dir.parent, ignore_errors=True)
        return TrainResult(out, out / MODEL_FILE, tdata.classes, metrics, history, skips.count, elapsed)
    write_text_atomic(out / HISTORY_FILE, json.dumps(history, indent=2))
    if cache:
        shutil.rmtree(out / CACHE_DIR, ignore_errors=True)
    run = {
        "edgevision_version": __version__, "recipe": recipe.to_dict(), "preprocess": spec.to_dict(),
        "classes": list(tdata.classes), "data": str(Path(data).resolve()), "data_kind": tdata.kind,
        "counts": tdata.counts(), "split_mode": tdata.split_mode, "held_out": split_name,
        "epochs_run": len(history.get("loss", [])), "epochs_planned": recipe.total_epochs,
        "best_epoch": state.best_epoch + 1, "stopped_early": state.stopped_stages,
        "stages": state.history.get("stage", []),
        "resumed_at": state.resumed_at, "distribution": dist.to_dict(), "init": state.init,
        "cache": "none" if cache is None else ("memory" if cache == "" else "disk"),
        "decoded_mb": round((len(tdata.train) + len(tdata.val)) * image_bytes(spec) / 2**20, 1),
        "class_weights": class_weights(tdata.class_counts()) if recipe.class_weight == "balanced" else None,
        "skipped": sorted(skips.paths), "metrics": metrics, "elapsed_s": round(elapsed, 2),
    }
    write_text_atomic(out / RUN_FILE, json.dumps(run, indent=2))
    state.finished = True
    state.elapsed_s = elapsed
    ckpt.commit(state)
    return TrainResult(out, model_path, tdata.classes, metrics, history, skips.count, elapsed,
                       state.best_epoch + 1, tuple(state.resumed_at))


def finished_result(out: Path) -> TrainResult | None:
    """The result of a run that already finished (``--resume`` on it has nothing to do)."""
    ckpt = Checkpoints(out)
    if not ckpt.exists() or not (out / RUN_FILE).is_file():
        return None
    state = ckpt.load_state()
    if not state.finished:
        return None
    run = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    history = json.loads((out / HISTORY_FILE).read_text(encoding="utf-8"))
    return TrainResult(out, out / MODEL_FILE, tuple(run["classes"]), run["metrics"], history, len(run["skipped"]),
                       float(run["elapsed_s"]), int(run.get("best_epoch", -1)), tuple(run.get("resumed_at", ())))
