"""TFLite Metadata (``metadata_schema.fbs``, identifier ``M001``) for image classifiers.

This is the metadata MediaPipe Tasks, the TFLite Support library and Android tooling read:
model name, input image properties and normalization, and labels as an associated file.
Slots below follow the schema's declaration order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import flatbuffers

from edgevision.model.flatbuf import FbTable, float_vector, offset_vector

METADATA_NAME = "TFLITE_METADATA"
FILE_IDENTIFIER = b"M001"
MIN_PARSER_VERSION = "1.0.0"

# enum AssociatedFileType
FILE_UNKNOWN, FILE_DESCRIPTIONS, FILE_TENSOR_AXIS_LABELS = 0, 1, 2
# enum ColorSpaceType
COLOR_SPACES = {"UNKNOWN": 0, "RGB": 1, "GRAYSCALE": 2}
# union ContentProperties / ProcessUnitOptions members
CONTENT_FEATURE, CONTENT_IMAGE = 1, 2
UNIT_NORMALIZATION = 1


@dataclass(frozen=True)
class AssociatedFile:
    name: str
    description: str = ""
    type: int = FILE_UNKNOWN


@dataclass(frozen=True)
class ClassifierMetadata:
    """The subset of TFLite Metadata that describes a single-input image classifier."""

    name: str
    description: str = ""
    version: str = ""
    author: str = ""
    license: str = ""
    input_name: str = "image"
    color_space: str = "RGB"
    width: int = 0
    height: int = 0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    input_min: float = 0.0
    input_max: float = 255.0
    output_name: str = "probability"
    labels_file: str | None = "labels.txt"
    model_files: tuple[AssociatedFile, ...] = field(default_factory=tuple)


def _assoc_file(b: flatbuffers.Builder, f: AssociatedFile) -> int:
    name = b.CreateString(f.name)
    desc = b.CreateString(f.description) if f.description else 0
    b.StartObject(4)
    b.PrependUOffsetTRelativeSlot(0, name, 0)
    if desc:
        b.PrependUOffsetTRelativeSlot(1, desc, 0)
    b.PrependInt8Slot(2, f.type, 0)
    return b.EndObject()


def _stats(b: flatbuffers.Builder, lo: float, hi: float) -> int:
    vmax, vmin = float_vector(b, [hi]), float_vector(b, [lo])
    b.StartObject(2)
    b.PrependUOffsetTRelativeSlot(0, vmax, 0)
    b.PrependUOffsetTRelativeSlot(1, vmin, 0)
    return b.EndObject()


def _input_tensor(b: flatbuffers.Builder, m: ClassifierMetadata) -> int:
    name = b.CreateString(m.input_name)
    desc = b.CreateString(f"Input image to be classified ({m.width}x{m.height} {m.color_space}).")
    b.StartObject(2)  # ImageSize
    b.PrependUint32Slot(0, m.width, 0)
    b.PrependUint32Slot(1, m.height, 0)
    size = b.EndObject()
    b.StartObject(2)  # ImageProperties
    b.PrependInt8Slot(0, COLOR_SPACES.get(m.color_space, 0), 0)
    b.PrependUOffsetTRelativeSlot(1, size, 0)
    props = b.EndObject()
    b.StartObject(3)  # Content
    b.PrependUint8Slot(0, CONTENT_IMAGE, 0)
    b.PrependUOffsetTRelativeSlot(1, props, 0)
    content = b.EndObject()
    mean, std = float_vector(b, list(m.mean)), float_vector(b, list(m.std))
    b.StartObject(2)  # NormalizationOptions
    b.PrependUOffsetTRelativeSlot(0, mean, 0)
    b.PrependUOffsetTRelativeSlot(1, std, 0)
    norm = b.EndObject()
    b.StartObject(2)  # ProcessUnit (union: type slot + value slot)
    b.PrependUint8Slot(0, UNIT_NORMALIZATION, 0)
    b.PrependUOffsetTRelativeSlot(1, norm, 0)
    unit = b.EndObject()
    units = offset_vector(b, [unit])
    stats = _stats(b, m.input_min, m.input_max)
    b.StartObject(7)  # TensorMetadata
    b.PrependUOffsetTRelativeSlot(0, name, 0)
    b.PrependUOffsetTRelativeSlot(1, desc, 0)
    b.PrependUOffsetTRelativeSlot(3, content, 0)
    b.PrependUOffsetTRelativeSlot(4, units, 0)
    b.PrependUOffsetTRelativeSlot(5, stats, 0)
    return b.EndObject()


def _output_tensor(b: flatbuffers.Builder, m: ClassifierMetadata) -> int:
    name = b.CreateString(m.output_name)
    desc = b.CreateString("Probabilities of the labels respectively.")
    b.StartObject(0)  # FeatureProperties
    feature = b.EndObject()
    b.StartObject(3)  # Content
    b.PrependUint8Slot(0, CONTENT_FEATURE, 0)
    b.PrependUOffsetTRelativeSlot(1, feature, 0)
    content = b.EndObject()
    stats = _stats(b, 0.0, 1.0)
    files = 0
    if m.labels_file:
        label = _assoc_file(b, AssociatedFile(m.labels_file, "Labels for categories that the model can recognize.",
                                              FILE_TENSOR_AXIS_LABELS))
        files = offset_vector(b, [label])
    b.StartObject(7)  # TensorMetadata
    b.PrependUOffsetTRelativeSlot(0, name, 0)
    b.PrependUOffsetTRelativeSlot(1, desc, 0)
    b.PrependUOffsetTRelativeSlot(3, content, 0)
    b.PrependUOffsetTRelativeSlot(5, stats, 0)
    if files:
        b.PrependUOffsetTRelativeSlot(6, files, 0)
    return b.EndObject()


def build_metadata(m: ClassifierMetadata) -> bytes:
    """Serialize ``m`` as a ``ModelMetadata`` flatbuffer (what goes into the TFLITE_METADATA buffer)."""
    b = flatbuffers.Builder(1024)
    inp, out = _input_tensor(b, m), _output_tensor(b, m)
    inputs, outputs = offset_vector(b, [inp]), offset_vector(b, [out])
    b.StartObject(7)  # SubGraphMetadata
    b.PrependUOffsetTRelativeSlot(2, inputs, 0)
    b.PrependUOffsetTRelativeSlot(3, outputs, 0)
    subgraph = b.EndObject()
    subgraphs = offset_vector(b, [subgraph])
    strings = {slot: b.CreateString(text) for slot, text in
               ((0, m.name), (1, m.description), (2, m.version), (4, m.author), (5, m.license)) if text}
    model_files = offset_vector(b, [_assoc_file(b, f) for f in m.model_files]) if m.model_files else 0
    parser = b.CreateString(MIN_PARSER_VERSION)
    b.StartObject(8)  # ModelMetadata
    for slot, off in strings.items():
        b.PrependUOffsetTRelativeSlot(slot, off, 0)
    b.PrependUOffsetTRelativeSlot(3, subgraphs, 0)
    if model_files:
        b.PrependUOffsetTRelativeSlot(6, model_files, 0)
    b.PrependUOffsetTRelativeSlot(7, parser, 0)
    root = b.EndObject()
    b.Finish(root, file_identifier=FILE_IDENTIFIER)
    return bytes(b.Output())


@dataclass(frozen=True)
class ParsedMetadata:
    """What edgevision reads back from any model's TFLite Metadata (ours or third-party)."""

    name: str = ""
    description: str = ""
    version: str = ""
    author: str = ""
    license: str = ""
    min_parser_version: str = ""
    color_space: str = ""
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    labels_file: str | None = None
    files: tuple[str, ...] = ()


def parse_metadata(buf: bytes | bytearray | memoryview) -> ParsedMetadata:
    """Parse a ModelMetadata flatbuffer; raises ValueError if it is not one."""
    if bytes(buf[4:8]) != FILE_IDENTIFIER:
        raise ValueError("not a TFLite Metadata buffer (identifier is not M001)")
    root = FbTable.root(buf)
    files: list[str] = [f.string(0) or "" for f in root.tables(6)]
    color, mean, std, labels = "", None, None, None
    subgraphs = root.tables(3)
    if subgraphs:
        sg = subgraphs[0]
        for f in sg.tables(4):
            files.append(f.string(0) or "")
        inputs = sg.tables(2)
        if inputs:
            color, mean, std = _input_props(inputs[0])
        for out in sg.tables(3):
            for f in out.tables(6):
                files.append(f.string(0) or "")
                if labels is None and f.int8(2) == FILE_TENSOR_AXIS_LABELS:
                    labels = f.string(0)
    return ParsedMetadata(
        name=root.string(0) or "", description=root.string(1) or "", version=root.string(2) or "",
        author=root.string(4) or "", license=root.string(5) or "", min_parser_version=root.string(7) or "",
        color_space=color, mean=mean, std=std, labels_file=labels, files=tuple(f for f in files if f),
    )


def _input_props(t: FbTable) -> tuple[str, tuple[float, ...] | None, tuple[float, ...] | None]:
    color = ""
    content = t.table(3)
    if content is not None and content.uint8(0) == CONTENT_IMAGE:
        props = content.union(1)
        if props is not None:
            code = props.int8(0)
            color = next((k for k, v in COLOR_SPACES.items() if v == code), "UNKNOWN")
    mean = std = None
    for unit in t.tables(4):
        if unit.uint8(0) == UNIT_NORMALIZATION:
            opts = unit.union(1)
            if opts is not None:
                mean, std = tuple(opts.floats(0)), tuple(opts.floats(1))
            break
    return color, mean, std
