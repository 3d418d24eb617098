"""[TF] Per-epoch checkpoints that a killed run resumes from without losing a finished epoch.

After every epoch the model (with its optimizer state) is written under a new name, then
``state.json`` is atomically replaced to point at it: the state file is the commit point,
so a SIGKILL at any instant leaves either the previous epoch's checkpoint or the new one,
never a torn one. The state also carries what Keras does not save: the early-stopping
counters, the history so far and the dropout layers' random-generator states, so the
resumed run continues exactly where the uninterrupted one would have been.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgevision.errors import BadInput, disk_full
from edgevision.train.rundir import load_keras

CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "state.json"
STATE_SCHEMA = "edgevision.train-state/1"


@dataclass
class TrainState:
    """Progress of one run; JSON on disk."""

    recipe: dict[str, Any]
    epochs_done: int = 0                      # epochs finished (0-based index of the next epoch)
    history: dict[str, list[float]] = field(default_factory=dict)
    best: float | None = None                 # best val_accuracy so far
    best_epoch: int = -1
    wait: int = 0                             # epochs since the last improvement, in this stage
    stopped_stages: list[str] = field(default_factory=list)  # stages ended early by patience
    finished: bool = False
    model_file: str = ""
    best_file: str = ""
    seed_states: list[list[int]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0
    resumed_at: list[int] = field(default_factory=list)  # epochs_done at each resume

    def to_json(self) -> str:
        return json.dumps({"schema": STATE_SCHEMA, **asdict(self)}, indent=2)

    @classmethod
    def from_json(cls, text: str, origin: str) -> TrainState:
        try:
            d = json.loads(text)
            if d.pop("schema", None) != STATE_SCHEMA:
                raise ValueError("not a training state file")
            return cls(**d)
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            raise BadInput(f"{origin}: corrupt training state ({exc}); train again without --resume") from None


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def save_model_atomic(model: Any, path: Path, epochs_done: int) -> None:
    """The run's final ``model.keras``: written under another name, then renamed, so a full disk
    never leaves a truncated model where ``convert`` looks for one."""
    tmp = path.with_name("partial-" + path.name)
    try:
        model.save(tmp)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if not disk_full(exc):
            raise
        raise BadInput(f"{path.parent}: no space left to save the trained model; all {epochs_done} epochs are "
                       "checkpointed: free some space and run again with --resume") from None


def write_text_atomic(path: Path, text: str) -> None:
    """A run file (history, run.json) in full or not at all."""
    try:
        _atomic_write(path, text)
    except OSError as exc:
        if not disk_full(exc):
            raise
        raise BadInput(f"{path}: no space left to write it; the checkpoints are kept: free some space and run "
                       "again with --resume") from None


class Checkpoints:
    """The ``checkpoints/`` folder of a run.

    With ``scratch`` (a multi-worker run's other workers) checkpoints are still read from the
    run but written to the scratch folder, and only the chief commits ``state.json``.
    """

    def __init__(self, run_dir: Path, scratch: Path | None = None) -> None:
        self.dir = run_dir / CHECKPOINT_DIR
        self.write_dir = (scratch or run_dir) / CHECKPOINT_DIR
        self.writer = scratch is None

    @property
    def state_path(self) -> Path:
        return self.dir / STATE_FILE

    def exists(self) -> bool:
        return self.state_path.is_file()

    def load_state(self) -> TrainState:
        return TrainState.from_json(self.state_path.read_text(encoding="utf-8"), str(self.state_path))

    def clear(self) -> None:
        if self.writer and self.dir.is_dir():
            for f in self.dir.iterdir():
                f.unlink()

    def save(self, model: Any, state: TrainState, improved: bool) -> None:
        """Write epoch ``state.epochs_done``'s model (and best weights), then commit the state.

        A full disk midway removes what this epoch wrote (the last committed epoch stays the one
        ``--resume`` continues from) and says so in one line.
        """
        self.write_dir.mkdir(parents=True, exist_ok=True)
        tag = f"epoch-{state.epochs_done:04d}"
        old = {state.model_file, state.best_file}
        model_file = f"{tag}.keras"
        best_file = f"best-{tag}.weights.h5" if improved or not state.best_file else ""
        new = [name for name in (model_file, best_file) if name]
        try:
            model.save(self.write_dir / model_file)
            if best_file:
                model.save_weights(self.write_dir / best_file)
            state.model_file, state.best_file = model_file, best_file or state.best_file
            state.seed_states = seed_states(model)
            if self.writer:
                _atomic_write(self.state_path, state.to_json())
        except OSError as exc:
            for name in new:
                (self.write_dir / name).unlink(missing_ok=True)
            if not disk_full(exc):
                raise
            done = state.epochs_done - 1
            raise BadInput(f"{self.write_dir}: no space left to save epoch {state.epochs_done}'s checkpoint; "
                           + (f"epoch {done} is kept: free some space and continue with --resume" if done > 0
                              else "free some space and train again")) from None
        for name in old - {state.model_file, state.best_file, ""}:
            (self.write_dir / name).unlink(missing_ok=True)

    def commit(self, state: TrainState) -> None:
        if self.writer:
            _atomic_write(self.state_path, state.to_json())

    def load_model(self, state: TrainState) -> Any:
        model = load_keras(self.dir / state.model_file, compile=True)
        restore_seed_states(model, state.seed_states)
        return model

    def restore_best(self, model: Any, state: TrainState) -> None:
        """Put the best epoch's weights back (its optimizer state, from another stage maybe, is not needed)."""
        import warnings

        for folder in (self.write_dir, self.dir):
            if state.best_file and (folder / state.best_file).is_file():
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                    model.load_weights(folder / state.best_file)
                return


def _seed_variables(model: Any) -> list[Any]:
    return [v for v in model.variables if "seed_generator_state" in v.path]


def seed_states(model: Any) -> list[list[int]]:
    """Dropout's random-generator states, which ``model.save`` leaves out."""
    return [[int(x) for x in v.numpy().tolist()] for v in _seed_variables(model)]


def restore_seed_states(model: Any, states: list[list[int]]) -> None:
    variables = _seed_variables(model)
    if len(variables) == len(states):
        for v, s in zip(variables, states, strict=True):
            v.assign(s)
