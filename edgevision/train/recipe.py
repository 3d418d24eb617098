"""Training recipes: TOML files in ``train/`` (or anywhere), overridable from the CLI.

A recipe holds everything that decides what the model becomes, so a run is reproduced
from its recipe and seed alone. It is plain data: no TensorFlow here.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from edgevision.errors import BadInput
from edgevision.model.spec import PreprocessSpec

DEFAULT_RECIPE = "small_cnn"
ARCHS = ("small_cnn",)


@dataclass(frozen=True)
class Augment:
    """Random training-time transforms; 0 disables one."""

    flip: bool = True
    rotation: float = 0.05     # fraction of a full turn, either way
    zoom: float = 0.1          # fraction, in and out
    translate: float = 0.05    # fraction of the size
    brightness: float = 0.1    # fraction of the 0..255 range
    contrast: float = 0.1      # fraction


@dataclass(frozen=True)
class Recipe:
    """What to train and how; field names are the TOML keys."""

    name: str = DEFAULT_RECIPE
    arch: str = "small_cnn"
    size: int = 64
    epochs: int = 15
    batch_size: int = 32
    learning_rate: float = 1e-3
    dropout: float = 0.3
    seed: int = 42
    patience: int = 5
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    resize: str = "area"
    crop: str = "squash"
    augment: Augment = field(default_factory=Augment)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise BadInput(f"recipe {self.name!r}: unknown arch {self.arch!r}; choose from {', '.join(ARCHS)}")
        if not 16 <= self.size <= 1024:
            raise BadInput(f"recipe {self.name!r}: size {self.size} out of range 16..1024")
        if self.epochs < 1 or self.batch_size < 1:
            raise BadInput(f"recipe {self.name!r}: epochs and batch_size must be at least 1")
        self.spec()  # validates resize/crop

    def spec(self) -> PreprocessSpec:
        """The preprocessing this recipe trains with; edgevision models normalize inside the graph."""
        return PreprocessSpec(width=self.size, height=self.size, resize=self.resize, crop=self.crop)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def override(self, **values: Any) -> Recipe:
        """Copy with the non-None values replaced (CLI flags)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    @classmethod
    def from_dict(cls, d: dict[str, Any], origin: str = "recipe") -> Recipe:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise BadInput(f"{origin}: unknown recipe key(s): {', '.join(sorted(unknown))}")
        values = dict(d)
        aug = values.pop("augment", {})
        a_known = {f.name for f in fields(Augment)}
        if not isinstance(aug, dict) or set(aug) - a_known:
            raise BadInput(f"{origin}: [augment] accepts {', '.join(sorted(a_known))}")
        try:
            return cls(**values, augment=Augment(**aug))
        except TypeError as exc:
            raise BadInput(f"{origin}: {exc}") from None


def recipe_dirs() -> list[Path]:
    """Where recipes are looked up by name: ./train, then the project's own train/ folder."""
    here = Path(__file__).resolve().parents[2] / "train"
    return [Path.cwd() / "train", here]


def load_recipe(name_or_path: str | None) -> Recipe:
    """A recipe by path, by name (``small_cnn`` -> ``train/small_cnn.toml``), or the built-in default."""
    if not name_or_path:
        name_or_path = DEFAULT_RECIPE
    p = Path(name_or_path)
    candidates = [p] if p.suffix == ".toml" or p.exists() else [d / f"{name_or_path}.toml" for d in recipe_dirs()]
    for c in candidates:
        if c.is_file():
            try:
                data = tomllib.loads(c.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise BadInput(f"{c}: invalid TOML ({exc})") from None
            data.setdefault("name", c.stem)
            return Recipe.from_dict(data, str(c))
    if name_or_path == DEFAULT_RECIPE:
        return Recipe()
    raise BadInput(f"recipe {name_or_path!r} not found (looked in {', '.join(str(c) for c in candidates)})")
