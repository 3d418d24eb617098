"""[TF] The files one conversion produces, and the held-out images it loads to judge them.

Shared by the runner (``runner.py``) and the repair step (``repair_run.py``), so neither imports
the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgevision.convert.export import model_card, package
from edgevision.data.discover import Sample
from edgevision.data.loader import load_pixels
from edgevision.errors import BadInput
from edgevision.runtime.inspect import plain_interpreter, quantization_summary
from edgevision.train.rundir import RunDir

CALIBRATED = ("int8", "int8-mixed", "int16x8")


def variant_path(run: RunDir, out: Path, variant: str) -> Path:
    return out / f"{run.name}_{variant}.tflite"


class Variants:
    """The files being produced: raw bytes, I/O type and path per variant name."""

    def __init__(self, run: RunDir, out: Path, calibration: dict[str, Any]) -> None:
        self.run, self.out, self.calibration = run, out, calibration
        self.flat: dict[str, bytes] = {}
        self.io: dict[str, str] = {}
        self.paths: dict[str, Path] = {}

    def card(self, variant: str, validation: dict[str, Any] | None = None, refs: Any = ()) -> Any:
        run = self.run
        return model_card(run.name, run.spec, run.classes, variant, str(run.recipe.get("name", "")), validation,
                          self.calibration if variant in CALIBRATED else None, refs, run.run.get("source"))

    def add(self, expected: str, data: bytes, io_type: str) -> str:
        """Write a variant under its measured name (never a name the ops contradict)."""
        measured = quantization_summary(plain_interpreter(data)).replace(" ", "-").replace("(", "").replace(")", "")
        variant = measured if expected in CALIBRATED or expected == "dynamic" else expected
        self.flat[variant], self.io[variant] = data, io_type
        self.paths[variant] = variant_path(self.run, self.out, variant)
        self.paths[variant].write_bytes(package(data, self.card(variant), self.run.classes, io_type))
        return variant


def load_images(samples: list[Sample] | tuple[Sample, ...], run: RunDir) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(img, s.label) for s in samples for img, ok in [load_pixels(s.path, run.spec)] if ok]
    if not pairs:
        return np.zeros((0, run.spec.height, run.spec.width, run.spec.channels), np.uint8), np.zeros(0, np.int64)
    return np.stack([p[0] for p in pairs]), np.asarray([p[1] for p in pairs], np.int64)


def held_out(run: RunDir, split: str | None) -> tuple[str, list[Sample]]:
    """The split a conversion is judged on (the policy's, else test, else val) and its images; BadInput when empty."""
    name, held = (split, run.dataset.split(split)) if split else run.dataset.held_out()
    if not held:
        raise BadInput(f"{run.root}: the {name} split is empty; nothing to validate the conversion on")
    return name, list(held)
