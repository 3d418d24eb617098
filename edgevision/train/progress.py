"""[TF] Rich progress for training: one live bar per epoch, then a summary line per epoch."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

SHOWN = ("loss", "accuracy", "val_loss", "val_accuracy")


def epoch_line(epoch: int, epochs: int, stage: str, logs: dict[str, float], seconds: float, images: int,
               best: bool) -> str:
    parts = [f"{k} {logs[k]:.4f}" for k in SHOWN if k in logs]
    rate = f"{images / seconds:.0f} img/s" if seconds > 0 and images else ""
    mark = " [green]best[/]" if best else ""
    head = f"epoch {epoch + 1}/{epochs} [dim]{stage}[/]  "
    return head + "  ".join(parts) + f"  [dim]{seconds:.1f} s {rate}[/]{mark}"


def rich_progress_callback(epochs: int, steps: int | None, console: Console | None = None,
                           epoch_offset: int = 0, stage: str = "") -> Any:
    """A Keras callback drawing a bar for the epochs of one ``fit`` call; the caller prints summaries."""
    import keras

    con = console or Console(stderr=True)

    class RichProgress(keras.callbacks.Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.progress = Progress(TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
                                     TextColumn("[dim]{task.fields[stage]}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[metrics]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                     console=con, transient=True)
            self.task: Any = None
            self.t0 = 0.0
            self.seen = 0

        def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
            self.progress.start()

        def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            self.t0, self.seen = time.perf_counter(), 0
            self.task = self.progress.add_task("train", total=steps, epoch=epoch_offset + epoch + 1, epochs=epochs,
                                               metrics="", stage=stage)

        def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
            shown = "" if not logs else f"loss {logs.get('loss', 0):.3f} acc {logs.get('accuracy', 0):.3f}"
            self.progress.update(self.task, advance=1, metrics=shown)

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            self.progress.remove_task(self.task)

        def on_train_end(self, logs: dict[str, float] | None = None) -> None:
            self.progress.stop()

    return RichProgress()
