"""Make a converted model self-describing: TFLite Metadata, labels and edgevision's model card."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from edgevision.model.artifact import CARD_FILE
from edgevision.model.labels import labels_sha256, labels_text
from edgevision.model.metadata import (
    FILE_DESCRIPTIONS,
    METADATA_NAME,
    AssociatedFile,
    ClassifierMetadata,
    build_metadata,
)
from edgevision.model.spec import ModelCard, PreprocessSpec
from edgevision.model.tflite_file import embed
from edgevision.version import __version__

LABELS_FILE = "labels.txt"
INPUT_RANGE = {"uint8": (0.0, 255.0), "int8": (-128.0, 127.0)}


def model_card(name: str, spec: PreprocessSpec, labels: Sequence[str], quantization: str, recipe: str = "",
               validation: Mapping[str, Any] | None = None, calibration: Mapping[str, Any] | None = None,
               references: Sequence[Mapping[str, Any]] = (), source: Mapping[str, Any] | None = None) -> ModelCard:
    return ModelCard(name=name, spec=spec, labels_sha256=labels_sha256(list(labels)), num_classes=len(labels),
                     quantization=quantization, recipe=recipe, validation=dict(validation or {}),
                     calibration=dict(calibration or {}), edgevision_version=__version__,
                     references=tuple(references), source=dict(source or {}))


def package(tflite: bytes, card: ModelCard, labels: Sequence[str], input_dtype: str,
            extra_files: Mapping[str, bytes] | None = None) -> bytes:
    """Embed metadata (read by MediaPipe Tasks / TFLite Support) and associated files into ``tflite``."""
    spec = card.spec
    lo, hi = INPUT_RANGE.get(input_dtype, ((0 - spec.mean[0]) / spec.std[0], (255 - spec.mean[0]) / spec.std[0]))
    md = ClassifierMetadata(
        name=card.name,
        description=(f"Image classifier ({len(labels)} classes, {card.quantization}) exported by edgevision "
                     f"{__version__}; input {spec.width}x{spec.height} {spec.color}, resize {spec.resize}, "
                     f"crop {spec.crop}."),
        version=__version__,
        author="edgevision",
        color_space="GRAYSCALE" if spec.channels == 1 else "RGB",
        width=spec.width, height=spec.height, mean=spec.mean, std=spec.std,
        input_min=lo, input_max=hi,
        labels_file=LABELS_FILE,
        model_files=(AssociatedFile(CARD_FILE, "edgevision model card: preprocessing spec, quantization and "
                                    "validation results", FILE_DESCRIPTIONS),),
    )
    files = {LABELS_FILE: labels_text(list(labels)).encode("utf-8"), CARD_FILE: card.to_json().encode("utf-8"),
             **(extra_files or {})}
    return embed(tflite, {METADATA_NAME: build_metadata(md)}, files)
