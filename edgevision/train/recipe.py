"""Training recipes: TOML or YAML files in ``train/`` (or anywhere), overridable from the CLI.

A recipe holds everything that decides what the model becomes, so a run is reproduced
from its recipe and seed alone. It is plain data: no TensorFlow here.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from edgevision.assets import asset_dirs, find_asset
from edgevision.data.settings import Augment, Split
from edgevision.errors import BadInput, MissingDependency
from edgevision.model.spec import PreprocessSpec

DEFAULT_RECIPE = "small_cnn"
ARCHS = ("small_cnn", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")
CACHES = ("auto", "memory", "disk", "none")
CLASS_WEIGHTS = ("balanced", "none")
RECIPE_SUFFIXES = (".toml", ".yaml", ".yml")


@dataclass(frozen=True)
class Recipe:
    """What to train and how; field names are the TOML/YAML keys."""

    name: str = DEFAULT_RECIPE
    arch: str = "small_cnn"
    size: int = 64
    width: float = 1.0               # small_cnn: filter multiplier; MobileNet: alpha (width multiplier)
    minimalistic: bool = False       # MobileNetV3: no hard-swish/SE (quantizes well, Edge TPU friendly)
    weights: str = "none"            # none | imagenet | PATH to backbone weights (.weights.h5 / .h5)
    epochs: int = 15                 # from scratch: all epochs; with weights: the frozen-base epochs
    fine_tune_epochs: int = 0        # with weights: epochs with the top of the base unfrozen
    fine_tune_fraction: float = 0.3  # share of the base's layers (from the top) unfrozen for fine-tuning
    fine_tune_learning_rate: float = 1e-4
    batch_size: int = 32
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    schedule: str = "constant"       # constant | cosine (decays to 0 over each stage)
    weight_decay: float = 0.0        # decoupled weight decay applied by the optimizer to every weight
    l2: float = 0.0                  # L2 penalty on conv/dense kernels (small_cnn) and the classifier head
    dropout: float = 0.1              # see train/small_cnn.toml: 0.3 stalls the small CNN
    class_weight: str = "balanced"   # balanced: weight classes by inverse frequency; none
    seed: int = 42
    patience: int = 5                # early stopping on validation accuracy; 0 disables
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    resize: str = "area"
    crop: str = "squash"
    cache: str = "auto"              # auto | memory | disk | none (decoded, resized pixels)
    cache_mb: int = 2048             # auto: cache in memory when the decoded images fit in this budget
    augment: Augment = field(default_factory=Augment)

    def __post_init__(self) -> None:
        where = f"recipe {self.name!r}"
        for key, value, allowed in (("arch", self.arch, ARCHS), ("optimizer", self.optimizer, OPTIMIZERS),
                                    ("schedule", self.schedule, SCHEDULES), ("cache", self.cache, CACHES),
                                    ("class_weight", self.class_weight, CLASS_WEIGHTS)):
            if value not in allowed:
                raise BadInput(f"{where}: unknown {key} {value!r}; choose from {', '.join(allowed)}")
        if not 16 <= self.size <= 1024:
            raise BadInput(f"{where}: size {self.size} out of range 16..1024")
        if self.epochs < 1 or self.batch_size < 1 or self.fine_tune_epochs < 0:
            raise BadInput(f"{where}: epochs and batch_size must be at least 1, fine_tune_epochs at least 0")
        if self.learning_rate <= 0 or self.fine_tune_learning_rate <= 0:
            raise BadInput(f"{where}: learning rates must be positive")
        if not 0 <= self.dropout < 1 or self.l2 < 0 or self.weight_decay < 0:
            raise BadInput(f"{where}: dropout must be in [0, 1), l2 and weight_decay at least 0")
        if not 0 < self.fine_tune_fraction <= 1 or self.width <= 0:
            raise BadInput(f"{where}: fine_tune_fraction must be in (0, 1], width positive")
        if self.patience < 0 or self.cache_mb < 0:
            raise BadInput(f"{where}: patience and cache_mb must be at least 0")
        if not self.weights:
            raise BadInput(f"{where}: weights must be none, imagenet or a path")
        if self.arch == "small_cnn" and self.weights != "none":
            raise BadInput(f"{where}: small_cnn trains from scratch; weights apply to the MobileNet backbones")
        self.spec()  # validates resize/crop

    @property
    def pretrained(self) -> bool:
        return self.weights != "none"

    @property
    def total_epochs(self) -> int:
        """Every epoch the run will train, both stages together."""
        return self.epochs + (self.fine_tune_epochs if self.pretrained else 0)

    def split(self) -> Split:
        """What the data layer needs to split a folder and check shards against."""
        return Split(self.val_fraction, self.test_fraction, self.seed, self.spec())

    def spec(self) -> PreprocessSpec:
        """The preprocessing this recipe trains with; edgevision models normalize inside the graph."""
        return PreprocessSpec(width=self.size, height=self.size, resize=self.resize, crop=self.crop)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def override(self, **values: Any) -> Recipe:
        """Copy with the non-None values replaced (CLI flags)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    def with_settings(self, settings: list[str]) -> Recipe:
        """Apply ``key=value`` overrides (``--set lr=...``, ``--set augment.rotation=0``); values parse as TOML."""
        data = self.to_dict()
        for item in settings:
            key, sep, raw = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise BadInput(f"--set {item!r}: expected KEY=VALUE, e.g. --set augment.rotation=0")
            value = _parse_value(raw.strip())
            target = data
            *parents, leaf = key.split(".")
            for p in parents:
                if not isinstance(target.get(p), dict):
                    raise BadInput(f"--set {item!r}: {p!r} is not a recipe section")
                target = target[p]
            if leaf not in target:
                raise BadInput(f"--set {item!r}: unknown recipe key {key!r}")
            target[leaf] = value
        return Recipe.from_dict(data, "--set")

    @classmethod
    def from_dict(cls, d: dict[str, Any], origin: str = "recipe") -> Recipe:
        if not isinstance(d, dict):
            raise BadInput(f"{origin}: a recipe must be a table of key = value pairs")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise BadInput(f"{origin}: unknown recipe key(s): {', '.join(sorted(unknown))}")
        values = dict(d)
        aug = values.pop("augment", {}) or {}
        a_known = {f.name for f in fields(Augment)}
        if not isinstance(aug, dict) or set(aug) - a_known:
            raise BadInput(f"{origin}: [augment] accepts {', '.join(sorted(a_known))}")
        for f in fields(cls):  # TOML/YAML write 1 for 1.0; a float field accepts an int
            if f.type == "float" and isinstance(values.get(f.name), int) and not isinstance(values[f.name], bool):
                values[f.name] = float(values[f.name])
        try:
            return cls(**values, augment=Augment(**aug))
        except TypeError as exc:
            raise BadInput(f"{origin}: {exc}") from None


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw  # a bare word such as mobilenet_v2 or a path


def recipe_dirs() -> list[Path]:
    """Where recipes are looked up by name: ./train, then the project's own train/ folder."""
    return asset_dirs("train")


def _read(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise BadInput(f"{path}: invalid TOML ({exc})") from None
    try:
        import yaml
    except ImportError:
        raise MissingDependency("pyyaml", "train", f"reading the YAML recipe {path}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInput(f"{path}: a recipe must be a mapping of key: value pairs")
    return data


def load_recipe(name_or_path: str | None) -> Recipe:
    """A recipe by path, by name (``small_cnn`` -> ``train/small_cnn.toml``), or the built-in default."""
    if not name_or_path:
        name_or_path = DEFAULT_RECIPE
    found, candidates = find_asset(name_or_path, ("train",), RECIPE_SUFFIXES)
    if found is not None:
        try:
            data = _read(found)
        except UnicodeDecodeError:
            raise BadInput(f"{found}: not a text file") from None
        data.setdefault("name", found.stem)
        return Recipe.from_dict(data, str(found))
    if name_or_path == DEFAULT_RECIPE:
        return Recipe()
    shown = ", ".join(str(c) for c in candidates[:4]) + (", ..." if len(candidates) > 4 else "")
    raise BadInput(f"recipe {name_or_path!r} not found (looked in {shown})")


def available_recipes() -> list[Path]:
    """Recipe files that ``--recipe NAME`` can find, for help texts and listings."""
    seen: dict[str, Path] = {}
    for d in recipe_dirs():
        if d.is_dir():
            for f in sorted(d.iterdir()):
                if f.suffix in RECIPE_SUFFIXES and f.stem not in seen:
                    seen[f.stem] = f
    return list(seen.values())
