"""The preprocessing spec: the one description of "pixels in" shared by training and device.

Training records it, the converter embeds it in the .tflite, and the runtime applies
exactly this, so a model never sees differently prepared pixels on the device than it
saw on the desktop (no train/serve skew).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from edgevision.errors import BadInput

SPEC_SCHEMA = "edgevision.preprocess/1"
CARD_SCHEMA = "edgevision.model/1"

COLORS = ("RGB", "BGR", "GRAY")
RESIZES = ("bilinear", "area", "nearest")
# squash: stretch the whole frame to the input size (what MediaPipe Tasks does by default);
# center: crop the largest centred box of the input's aspect, then resize;
# letterbox: fit the whole frame and pad the rest with zeros.
CROPS = ("squash", "center", "letterbox")

# Named normalizations, expressed on 0..255 pixel values: x' = (x - mean) / std.
NORMALIZATIONS: dict[str, tuple[float, float]] = {
    "raw": (0.0, 1.0),          # the model gets 0..255 (edgevision models normalize inside)
    "unit": (0.0, 255.0),       # 0..1
    "symmetric": (127.5, 127.5),  # -1..1 (MobileNet / EfficientNet-Lite convention)
}


@dataclass(frozen=True)
class PreprocessSpec:
    """How a frame becomes the model's input tensor (before input quantization)."""

    width: int
    height: int
    channels: int = 3
    color: str = "RGB"
    resize: str = "bilinear"
    crop: str = "squash"
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise BadInput(f"preprocessing spec: input size must be positive, got {self.width}x{self.height}")
        if self.channels not in (1, 3):
            raise BadInput(f"preprocessing spec: channels must be 1 or 3, got {self.channels}")
        for name, value, allowed in (("color", self.color, COLORS), ("resize", self.resize, RESIZES),
                                     ("crop", self.crop, CROPS)):
            if value not in allowed:
                raise BadInput(f"preprocessing spec: {name} must be one of {', '.join(allowed)}, got {value!r}")
        if any(s == 0 for s in self.std):
            raise BadInput("preprocessing spec: std must not contain 0")

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PreprocessSpec:
        try:
            return cls(
                width=int(d["width"]), height=int(d["height"]), channels=int(d.get("channels", 3)),
                color=str(d.get("color", "RGB")), resize=str(d.get("resize", "bilinear")),
                crop=str(d.get("crop", "squash")),
                mean=tuple(float(v) for v in d.get("mean", (0.0,))),
                std=tuple(float(v) for v in d.get("std", (1.0,))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"preprocessing spec is malformed: {exc}") from None

    def with_normalization(self, name: str) -> PreprocessSpec:
        if name not in NORMALIZATIONS:
            raise BadInput(f"unknown normalization {name!r}; use one of {', '.join(NORMALIZATIONS)}")
        mean, std = NORMALIZATIONS[name]
        return replace(self, mean=(mean,), std=(std,))


@dataclass(frozen=True)
class ModelCard:
    """Everything edgevision embeds next to the weights (the associated ``edgevision.json``)."""

    name: str
    spec: PreprocessSpec
    labels_sha256: str
    num_classes: int
    quantization: str = "float32"
    recipe: str = ""
    validation: Mapping[str, Any] = field(default_factory=dict)
    calibration: Mapping[str, Any] = field(default_factory=dict)
    edgevision_version: str = ""
    # embedded reference images and the scores they gave on the desktop ({"file", "label", "scores",
    # "float_scores"}), for checking a device end to end
    references: tuple[Mapping[str, Any], ...] = ()
    # where a model the user brought came from (format, file, how its preprocessing was declared, whether a
    # softmax was added); empty for models trained by edgevision
    source: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        body = {
            "schema": CARD_SCHEMA,
            "name": self.name,
            "preprocess": {"schema": SPEC_SCHEMA, **self.spec.to_dict()},
            "labels_sha256": self.labels_sha256,
            "num_classes": self.num_classes,
            "quantization": self.quantization,
            "recipe": self.recipe,
            "validation": dict(self.validation),
            "calibration": dict(self.calibration),
            "edgevision_version": self.edgevision_version,
            "references": [dict(r) for r in self.references],
            **({"source": dict(self.source)} if self.source else {}),
        }
        return json.dumps(body, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes, origin: str = "model card") -> ModelCard:
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadInput(f"{origin}: not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})") from None
        if not isinstance(d, dict) or d.get("schema") != CARD_SCHEMA:
            raise BadInput(f"{origin}: not an edgevision model card (schema {d.get('schema')!r})"
                           if isinstance(d, dict) else f"{origin}: not an edgevision model card")
        try:
            return cls(
                name=str(d.get("name", "")), spec=PreprocessSpec.from_dict(d["preprocess"]),
                labels_sha256=str(d["labels_sha256"]), num_classes=int(d["num_classes"]),
                quantization=str(d.get("quantization", "float32")), recipe=str(d.get("recipe", "")),
                validation=d.get("validation") or {}, calibration=d.get("calibration") or {},
                edgevision_version=str(d.get("edgevision_version", "")),
                references=tuple(d.get("references") or ()),
                source=d.get("source") or {},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"{origin}: missing or malformed field {exc}") from None
