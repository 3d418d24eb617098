"""``edgevision train DATA --out RUN``: train a classifier from one folder per class."""

from __future__ import annotations

from pathlib import Path

import typer

from edgevision.cli.common import err_console, handle_errors, out_console, print_json, quiet_tensorflow


def register(app: typer.Typer) -> None:
    @app.command(epilog="Examples:\n\n  edgevision train data/flowers --out runs/flowers\n\n"
                        "  edgevision train data/digits --out runs/digits --size 64 --epochs 20\n\n"
                        "  edgevision train data/pets --out runs/pets --recipe train/small_cnn.toml --json")
    @handle_errors
    def train(
        data: Path = typer.Argument(..., help="Folder with one sub-folder per class (optionally under "
                                              "train/, val/, test/)."),
        out: Path = typer.Option(..., "--out", "-o", help="Run directory to create, e.g. runs/NAME."),
        recipe: str | None = typer.Option(None, "--recipe", help="Recipe name (train/NAME.toml) or path."),
        arch: str | None = typer.Option(None, "--arch", help="Architecture (overrides the recipe)."),
        size: int | None = typer.Option(None, "--size", help="Input size in pixels (square)."),
        epochs: int | None = typer.Option(None, "--epochs", min=1),
        batch_size: int | None = typer.Option(None, "--batch-size", min=1),
        learning_rate: float | None = typer.Option(None, "--lr"),
        seed: int | None = typer.Option(None, "--seed"),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Train a CNN and save it with its labels, data splits and preprocessing spec."""
        quiet_tensorflow()
        from edgevision.train.recipe import load_recipe

        r = load_recipe(recipe).override(arch=arch, size=size, epochs=epochs, batch_size=batch_size,
                                         learning_rate=learning_rate, seed=seed)
        from edgevision.train.trainer import train as run_training

        result = run_training(data, out, r, err_console())
        held = next((k for k in ("test", "val") if result.metrics.get(k)), "val")
        m = result.metrics[held]
        summary = {"run": str(result.out_dir), "model": str(result.model_path), "classes": list(result.classes),
                   "held_out": held, "accuracy": m["accuracy"], "macro_f1": m["macro"]["f1"],
                   "epochs_run": len(result.history.get("loss", [])), "skipped_images": result.skipped,
                   "elapsed_s": round(result.elapsed_s, 1)}
        if json_out:
            print_json(summary)
            return
        out_console().print(
            f"[bold green]trained[/] {len(result.classes)} classes in {summary['elapsed_s']} s "
            f"({summary['epochs_run']} epochs): {held} accuracy {m['accuracy']:.3f}, macro F1 {m['macro']['f1']:.3f}"
            + (f", {result.skipped} unreadable images skipped" if result.skipped else "")
            + f"\nrun directory: {result.out_dir}\nnext: edgevision convert {result.out_dir}")
