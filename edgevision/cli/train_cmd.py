"""``edgevision train DATA --out RUN``: train a classifier from one folder per class or from shards."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgevision.cli.arguments import Commands, argument, option
from edgevision.cli.common import err_console, handle_errors, out_console, print_json, quiet_tensorflow

EPILOG = """Examples:

  edgevision train data/flowers --out runs/flowers                      (transfer learning when it can)

  edgevision train data/flowers --out runs/flowers --weights backbone.h5  (ImageNet weights copied by hand)

  edgevision train data/digits --out runs/digits --size 64 --epochs 20

  edgevision train data/pets --out runs/pets --recipe mobilenet_v3_small --weights imagenet

  edgevision train data/pets --out runs/pets --recipe train/small_cnn.toml --set augment.rotation=0 --set l2=1e-4

  edgevision train data/pets-shards --out runs/pets --cache disk          (shards from: edgevision data pack)

  edgevision train data/pets --out runs/pets --resume                     (continue a killed run)

  edgevision train data/pets --out runs/pets2 --add field/cam1            (+ samples pulled from a device, corrected)

  edgevision train data/pets --out runs/pets --strategy mirrored          (all local GPUs)

Recipes are TOML or YAML files; by name they are looked up in ./train and the project's train/ folder.
"""


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (kill, systemd, a batch scheduler) ends training like Ctrl-C: the finished epochs are already
    committed, the run says how to continue it, and the exit status is 143 rather than a silent death."""
    terminated = False

    def _handler(signum: int, frame: Any) -> None:
        nonlocal terminated
        terminated = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _handler)
    try:
        yield
    except KeyboardInterrupt:
        if terminated:
            raise SystemExit(128 + signal.SIGTERM) from None
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def register(commands: Commands) -> None:
    p = commands.add("train", train, epilog=EPILOG)
    argument(p, "data", help="Folder with one sub-folder per class (optionally under train/, val/, test/), or a shard "
             "folder from `edgevision data pack`.")
    option(p, "--out", "-o", kind=Path, required=True, help="Run directory to create, e.g. runs/NAME.")
    option(p, "--recipe", help="Recipe name (train/NAME.toml|yaml) or path. Default: mobilenet_v2 from ImageNet "
                               "weights, or small_cnn from scratch when they cannot be had.")
    option(p, "--arch", help="small_cnn | mobilenet_v2 | mobilenet_v3_small | mobilenet_v3_large (overrides the "
                             "recipe).")
    option(p, "--weights", help="Backbone weights: imagenet (Keras' cache, else a download) | PATH | none. With "
                                "weights: frozen base, then fine-tuning.")
    option(p, "--size", kind=int, help="Input size in pixels (square).")
    option(p, "--epochs", kind=int, min=1, help="Training epochs (default: the recipe's).")
    option(p, "--batch-size", kind=int, min=1, help="Global batch size.")
    option(p, "--lr", kind=float, dest="learning_rate", help="Learning rate (default: the recipe's).")
    option(p, "--seed", kind=int, help="Seed (default: the recipe's).")
    option(p, "--cache", help="auto | memory | disk | none: where decoded images are kept between epochs.")
    option(p, "--set", dest="settings", many=True, metavar="KEY=VALUE",
           help="Override any recipe key: KEY=VALUE (e.g. augment.zoom=0.2).")
    option(p, "--resume", kind=bool, default=False, help="Continue the unfinished run in --out from its last "
                                                         "finished epoch (with its own recipe).")
    option(p, "--add", kind=Path, many=True, metavar="FOLDER",
           help="A labelled folder (one sub-folder per class, e.g. `edgevision device samples pull`'s after "
                "correcting it) whose images join the training split; sub-folders named _* are left out.")
    option(p, "--strategy", default="default", help="default | mirrored (all local GPUs) | multiworker (machines "
                                                    "in TF_CONFIG).")
    option(p, "--json", kind=bool, default=False, dest="json_out", help="Print the result as JSON.")


@handle_errors
def train(*, data: Path, out: Path, recipe: str | None, arch: str | None, weights: str | None, size: int | None,
          epochs: int | None, batch_size: int | None, learning_rate: float | None, seed: int | None,
          cache: str | None, settings: list[str] | None, resume: bool, add: list[Path] | None, strategy: str,
          json_out: bool) -> None:
    """Train a CNN and save it with its labels, data splits and preprocessing spec."""
    quiet_tensorflow()
    r = _recipe(out, recipe, resume, settings or [], arch=arch, weights=weights, size=size, epochs=epochs,
                batch_size=batch_size, learning_rate=learning_rate, seed=seed, cache=cache)
    from edgevision.train.trainer import train as run_training

    with _sigterm_as_interrupt():
        result = run_training(data, out, r, err_console(), resume=resume, strategy=strategy, add=tuple(add or ()))
    held = next((k for k in ("test", "val") if result.metrics.get(k)), "val")
    m = result.metrics[held]
    summary = {"run": str(result.out_dir), "model": str(result.model_path), "classes": list(result.classes),
               "held_out": held, "accuracy": m["accuracy"], "macro_f1": m["macro"]["f1"],
               "epochs_run": len(result.history.get("loss", [])), "best_epoch": result.best_epoch,
               "resumed_at": list(result.resumed_at), "skipped_images": result.skipped,
               "elapsed_s": round(result.elapsed_s, 1)}
    if json_out:
        print_json(summary)
        return
    from edgevision.console import inert_markup

    out_console().print(
        f"[bold green]trained[/] {len(result.classes)} classes in {summary['elapsed_s']} s "
        f"({summary['epochs_run']} epochs, best {result.best_epoch}): {held} accuracy {m['accuracy']:.3f}, "
        f"macro F1 {m['macro']['f1']:.3f}"
        + (f", {result.skipped} unreadable images skipped" if result.skipped else "")
        + f"\nrun directory: {inert_markup(result.out_dir)}\nnext: edgevision convert {inert_markup(result.out_dir)}")


def _recipe(out: Path, name: str | None, resume: bool, settings: list[str], **flags: Any) -> Any:
    """The recipe file plus CLI overrides; when resuming, the run's own recipe (only epochs may grow)."""
    from edgevision.errors import BadInput
    from edgevision.train.recipe import load_recipe

    if resume:
        from edgevision.train.trainer import saved_recipe

        if name:
            raise BadInput("--resume continues the run's own recipe; drop --recipe")
        base = saved_recipe(out)
    else:
        base = load_recipe(name)
        if flags.get("arch") == "small_cnn" and flags.get("weights") is None:
            flags["weights"] = "none"  # small_cnn has no pretrained weights: --arch small_cnn on a transfer recipe
    return base.with_settings(settings).override(**flags) if settings else base.override(**flags)
