"""Quantization policies: TOML files in ``convert/`` (or anywhere), overridable from the CLI.

A policy says what "good enough" means for a conversion (the accuracy budget), what to
produce (precision, I/O type, targets, formats) and what the converter may do when the
int8 model is over budget (repair strategies and their limits). Plain data: no TensorFlow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from edgevision.assets import asset_dirs, find_asset
from edgevision.convert.targets import NAMES
from edgevision.errors import BadInput

DEFAULT_POLICY = "default"
QUANT_CHOICES = ("int8", "float16", "dynamic", "float32", "all")
IO_TYPES = ("uint8", "int8")
TARGETS = NAMES  # convert/targets.py
FORMATS = ("tflite", "onnx")
STRATEGIES = ("selective", "int16x8")


@dataclass(frozen=True)
class RepairPolicy:
    """What the converter may try when int8 loses more than the budget."""

    strategies: tuple[str, ...] = STRATEGIES
    max_float_layers: int = 6
    max_trials: int = 24
    candidates: int = 6
    target_fraction: float = 1.0

    def __post_init__(self) -> None:
        bad = [s for s in self.strategies if s not in STRATEGIES]
        if bad:
            raise BadInput(f"repair strategy {bad[0]!r} unknown; choose from {', '.join(STRATEGIES)}")
        if min(self.max_float_layers, self.max_trials, self.candidates) < 0:
            raise BadInput("repair limits (max_float_layers, max_trials, candidates) must be >= 0")
        if not 0 < self.target_fraction <= 1:
            raise BadInput(f"repair target_fraction {self.target_fraction} must be in (0, 1]")


@dataclass(frozen=True)
class Policy:
    """A conversion policy; field names are the TOML keys."""

    name: str = DEFAULT_POLICY
    description: str = ""
    quant: str = "int8"
    max_drop: float = 1.0
    io: str = "uint8"
    calibration_size: int = 200
    split: str = ""
    targets: tuple[str, ...] = ()
    formats: tuple[str, ...] = ("tflite",)
    # budget when the data is unlabelled (convert MODEL --unlabelled): the share of images, in percentage
    # points, whose top-1 may change from the original model's
    max_disagreement: float = 2.0
    repair: RepairPolicy = field(default_factory=RepairPolicy)

    def __post_init__(self) -> None:
        checks = (("quant", (self.quant,), QUANT_CHOICES), ("io", (self.io,), IO_TYPES),
                  ("targets", self.targets, TARGETS), ("formats", self.formats, FORMATS))
        for key, values, allowed in checks:
            for v in values:
                if v not in allowed:
                    raise BadInput(f"policy {self.name!r}: {key} {v!r} unknown; choose from {', '.join(allowed)}")
        if self.max_drop < 0:
            raise BadInput(f"policy {self.name!r}: max_drop {self.max_drop} must be >= 0 percentage points")
        if self.max_disagreement < 0:
            raise BadInput(f"policy {self.name!r}: max_disagreement {self.max_disagreement} must be >= 0 points")
        if self.calibration_size < 1:
            raise BadInput(f"policy {self.name!r}: calibration_size must be at least 1")
        if self.split not in ("", "train", "val", "test"):
            raise BadInput(f"policy {self.name!r}: split {self.split!r} must be test, val or empty")

    def override(self, **values: Any) -> Policy:
        """Copy with the non-None values replaced (CLI flags win over the file)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["targets"], d["formats"] = list(self.targets), list(self.formats)
        d["repair"]["strategies"] = list(self.repair.strategies)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], origin: str = "policy") -> Policy:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise BadInput(f"{origin}: unknown policy key(s): {', '.join(sorted(unknown))}")
        values = dict(d)
        rep = values.pop("repair", {})
        r_known = {f.name for f in fields(RepairPolicy)}
        if not isinstance(rep, dict) or set(rep) - r_known:
            raise BadInput(f"{origin}: [repair] accepts {', '.join(sorted(r_known))}")
        try:
            for key in ("targets", "formats"):
                if key in values:
                    values[key] = tuple(values[key])
            if "strategies" in rep:
                rep = {**rep, "strategies": tuple(rep["strategies"])}
            return cls(**values, repair=RepairPolicy(**rep))
        except TypeError as exc:
            raise BadInput(f"{origin}: {exc}") from None


def policy_dirs() -> list[Path]:
    """Where policies are looked up by name: ./convert, then the project's own convert/ folder."""
    return asset_dirs("convert")


def load_policy(name_or_path: str | Path | None) -> Policy:
    """A policy by path, by name (``edgetpu`` -> ``convert/edgetpu.toml``), or the built-in default."""
    name = str(name_or_path or DEFAULT_POLICY)
    found, candidates = find_asset(name, ("convert",), (".toml",))
    if found is not None:
        from edgevision.documents import read_toml

        data = read_toml(found, dict[str, Any], "quantization policy")  # bounded size and depth, one error line
        data.setdefault("name", found.stem)
        return Policy.from_dict(data, str(found))
    if name == DEFAULT_POLICY:
        return Policy()
    raise BadInput(f"policy {name!r} not found (looked in {', '.join(str(c) for c in candidates)})")
