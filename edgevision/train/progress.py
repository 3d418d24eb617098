"""[TF] A rich progress bar for Keras training, one bar per epoch plus a summary line."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def rich_progress_callback(epochs: int, steps: int | None, console: Console | None = None) -> Any:
    import keras

    con = console or Console(stderr=True)

    class RichProgress(keras.callbacks.Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.progress = Progress(TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
                                     BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[metrics]}"),
                                     TimeElapsedColumn(), console=con, transient=True)
            self.task: Any = None

        def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
            self.progress.start()

        def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            self.task = self.progress.add_task("train", total=steps, epoch=epoch + 1, epochs=epochs, metrics="")

        def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
            shown = "" if not logs else f"loss {logs.get('loss', 0):.3f} acc {logs.get('accuracy', 0):.3f}"
            self.progress.update(self.task, advance=1, metrics=shown)

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            self.progress.remove_task(self.task)
            logs = logs or {}
            parts = [f"{k} {v:.4f}" for k, v in logs.items() if k in ("loss", "accuracy", "val_loss", "val_accuracy")]
            con.print(f"epoch {epoch + 1}/{epochs}  " + "  ".join(parts))

        def on_train_end(self, logs: dict[str, float] | None = None) -> None:
            self.progress.stop()

    return RichProgress()
