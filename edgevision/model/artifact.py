"""Load a model file and everything it says about itself, for any classification .tflite.

edgevision models carry a model card (``edgevision.json``) and labels; third-party models
may carry only TFLite Metadata, or nothing, in which case labels come from a file and
normalization from the user (or a safe default).
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from edgevision.errors import BadInput, exception_name
from edgevision.model.labels import labels_sha256, parse_labels, read_labels
from edgevision.model.spec import ModelCard
from edgevision.model.tflite_file import (
    METADATA_NAME,
    associated_files,
    check_tflite,
    metadata_buffers,
    output_scores,
    read_model_bytes,
)

if TYPE_CHECKING:
    from edgevision.model.metadata import ParsedMetadata

CARD_FILE = "edgevision.json"


class ModelArtifact(NamedTuple):
    """A model's bytes plus what it (or the user) says about it."""

    path: Path
    data: bytes
    metadata: "ParsedMetadata | None"
    card: ModelCard | None
    labels: tuple[str, ...] | None
    labels_origin: str
    files: tuple[str, ...]

    @property
    def name(self) -> str:
        if self.card and self.card.name:
            return self.card.name
        if self.metadata and self.metadata.name:
            return self.metadata.name
        return self.path.stem


def load_artifact(path: str | Path, labels: str | Path | None = None, data: bytes | None = None,
                  labels_data: bytes | None = None) -> ModelArtifact:
    """Read ``path`` and resolve labels: an explicit labels file wins over embedded ones.

    ``data`` (and ``labels_data``, the labels file's content): bytes already read and verified (a release's,
    hashed against its manifest), used instead of reading the files again, so what runs is what was checked."""
    p = Path(path)
    if data is None:
        data = read_model_bytes(p)
    else:
        check_tflite(data, str(p))
    files = associated_files(data, str(p))
    metadata = _metadata(data, p)
    card = ModelCard.from_json(files[CARD_FILE], f"{p}: {CARD_FILE}") if CARD_FILE in files else None

    resolved: tuple[str, ...] | None = None
    origin = ""
    scores = output_scores(data)
    if labels is not None and labels_data is not None:
        origin = str(labels)
        try:
            resolved = parse_labels(labels_data.decode("utf-8"), origin, expected=scores)
        except UnicodeDecodeError as exc:
            raise BadInput(f"{origin}: labels are not valid UTF-8 (byte {exc.start})") from None
    elif labels is not None:
        resolved, origin = read_labels(labels, expected=scores), str(labels)
    elif metadata and metadata.labels_file:
        origin = f"{p}: {metadata.labels_file}"
        if metadata.labels_file not in files:
            raise BadInput(f"{origin}: the metadata names this labels file but the model does not carry it "
                           "(damaged or truncated associated files); pass --labels FILE")
        try:
            text = files[metadata.labels_file].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"{origin}: embedded labels are not valid UTF-8 (byte {exc.start})") from None
        resolved = parse_labels(text, origin, expected=scores)
    if card and resolved is not None and labels is None and labels_sha256(resolved) != card.labels_sha256:
        raise BadInput(f"{p}: embedded labels do not match the model card (label hash differs); "
                       "the file was edited after export")
    if card and resolved is not None and len(resolved) != card.num_classes:
        raise BadInput(f"{origin}: {len(resolved)} labels but the model has {card.num_classes} classes")
    if resolved is not None and scores is not None and len(resolved) not in (scores, scores - 1):
        raise BadInput(f"{origin}: {len(resolved)} labels but the model outputs {scores} scores")
    return ModelArtifact(path=p, data=data, metadata=metadata, card=card, labels=resolved,
                         labels_origin=origin, files=tuple(files))


def _metadata(data: bytes, p: Path) -> "ParsedMetadata | None":
    try:
        raw = metadata_buffers(data, (METADATA_NAME,)).get(METADATA_NAME)
        if raw is None:
            return None
        from edgevision.model.metadata import parse_metadata  # here: a model without TFLite Metadata starts without it

        return parse_metadata(raw)
    except Exception as exc:  # noqa: BLE001 - garbled offsets point anywhere; flatbuffers raises whatever they provoke
        raise BadInput(f"{p}: TFLite Metadata is corrupt ({exception_name(exc)}: {str(exc)[:60]})") from None
