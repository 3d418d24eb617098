"""TFLite Metadata (``metadata_schema.fbs``, identifier ``M001``) for image classifiers.

This is the metadata MediaPipe Tasks, the TFLite Support library and Android tooling read:
model name, input image properties and normalization, and labels as an associated file.
Every slot is named after its field in the schema (``metadata_fields.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from edgevision.model import metadata_fields as F
from edgevision.model.flatbuf import FbTable, float_vector, offset_vector
from edgevision.model.tflite_file import METADATA_NAME  # noqa: F401 - where export and readers take it from

if TYPE_CHECKING:  # only writing needs the builder; reading (every device start) does not import it
    import flatbuffers

AF, MM = F.AssociatedFile, F.ModelMetadata

FILE_IDENTIFIER = b"M001"
MIN_PARSER_VERSION = "1.0.0"

# enum AssociatedFileType
FILE_UNKNOWN, FILE_DESCRIPTIONS, FILE_TENSOR_AXIS_LABELS = 0, 1, 2
# enum ColorSpaceType
COLOR_SPACES = {"UNKNOWN": 0, "RGB": 1, "GRAYSCALE": 2}


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
    b.StartObject(F.AssociatedFile.COUNT)
    b.PrependUOffsetTRelativeSlot(F.AssociatedFile.NAME, name, 0)
    if desc:
        b.PrependUOffsetTRelativeSlot(F.AssociatedFile.DESCRIPTION, desc, 0)
    b.PrependInt8Slot(F.AssociatedFile.TYPE, f.type, 0)
    return b.EndObject()


def _stats(b: flatbuffers.Builder, lo: float, hi: float) -> int:
    vmax, vmin = float_vector(b, [hi]), float_vector(b, [lo])
    b.StartObject(F.Stats.COUNT)
    b.PrependUOffsetTRelativeSlot(F.Stats.MAX, vmax, 0)
    b.PrependUOffsetTRelativeSlot(F.Stats.MIN, vmin, 0)
    return b.EndObject()


def _input_tensor(b: flatbuffers.Builder, m: ClassifierMetadata) -> int:
    name = b.CreateString(m.input_name)
    desc = b.CreateString(f"Input image to be classified ({m.width}x{m.height} {m.color_space}).")
    b.StartObject(F.ImageSize.COUNT)
    b.PrependUint32Slot(F.ImageSize.WIDTH, m.width, 0)
    b.PrependUint32Slot(F.ImageSize.HEIGHT, m.height, 0)
    size = b.EndObject()
    b.StartObject(F.ImageProperties.COUNT)
    b.PrependInt8Slot(F.ImageProperties.COLOR_SPACE, COLOR_SPACES.get(m.color_space, 0), 0)
    b.PrependUOffsetTRelativeSlot(F.ImageProperties.DEFAULT_SIZE, size, 0)
    props = b.EndObject()
    b.StartObject(F.Content.COUNT)
    b.PrependUint8Slot(F.Content.CONTENT_PROPERTIES_TYPE, F.CONTENT_IMAGE_PROPERTIES, 0)
    b.PrependUOffsetTRelativeSlot(F.Content.CONTENT_PROPERTIES, props, 0)
    content = b.EndObject()
    mean, std = float_vector(b, list(m.mean)), float_vector(b, list(m.std))
    b.StartObject(F.NormalizationOptions.COUNT)
    b.PrependUOffsetTRelativeSlot(F.NormalizationOptions.MEAN, mean, 0)
    b.PrependUOffsetTRelativeSlot(F.NormalizationOptions.STD, std, 0)
    norm = b.EndObject()
    b.StartObject(F.ProcessUnit.COUNT)
    b.PrependUint8Slot(F.ProcessUnit.OPTIONS_TYPE, F.UNIT_NORMALIZATION_OPTIONS, 0)
    b.PrependUOffsetTRelativeSlot(F.ProcessUnit.OPTIONS, norm, 0)
    unit = b.EndObject()
    units = offset_vector(b, [unit])
    stats = _stats(b, m.input_min, m.input_max)
    b.StartObject(F.TensorMetadata.COUNT)
    b.PrependUOffsetTRelativeSlot(F.TensorMetadata.NAME, name, 0)
    b.PrependUOffsetTRelativeSlot(F.TensorMetadata.DESCRIPTION, desc, 0)
    b.PrependUOffsetTRelativeSlot(F.TensorMetadata.CONTENT, content, 0)
    b.PrependUOffsetTRelativeSlot(F.TensorMetadata.PROCESS_UNITS, units, 0)
    b.PrependUOffsetTRelativeSlot(F.TensorMetadata.STATS, stats, 0)
    return b.EndObject()


def _output_tensor(b: flatbuffers.Builder, m: ClassifierMetadata) -> int:
    name = b.CreateString(m.output_name)
    desc = b.CreateString("Probabilities of the labels respectively.")
    b.StartObject(0)  # FeatureProperties: no fields
    feature = b.EndObject()
    b.StartObject(F.Content.COUNT)
    b.PrependUint8Slot(F.Content.CONTENT_PROPERTIES_TYPE, F.CONTENT_FEATURE_PROPERTIES, 0)
    b.PrependUOffsetTRelativeSlot(F.Content.CONTENT_PROPERTIES, feature, 0)
    content = b.EndObject()
    stats = _stats(b, 0.0, 1.0)
    files = 0
    if m.labels_file:
        label = _assoc_file(b, AssociatedFile(m.labels_file, "Labels for categories that the model can recognize.",
                                              FILE_TENSOR_AXIS_LABELS))
        files = offset_vector(b, [label])
    b.StartObject(F.TensorMetadata.COUNT)
    b.PrependUOffsetTRelativeSlot(F.TensorMetadata.NAME, name, 0)
    b.PrependUOffsetTRelativeSlot(F.TensorMetadata.DESCRIPTION, desc, 0)
    b.PrependUOffsetTRelativeSlot(F.TensorMetadata.CONTENT, content, 0)
    b.PrependUOffsetTRelativeSlot(F.TensorMetadata.STATS, stats, 0)
    if files:
        b.PrependUOffsetTRelativeSlot(F.TensorMetadata.ASSOCIATED_FILES, files, 0)
    return b.EndObject()


def build_metadata(m: ClassifierMetadata) -> bytes:
    """Serialize ``m`` as a ``ModelMetadata`` flatbuffer (what goes into the TFLITE_METADATA buffer)."""
    import flatbuffers

    b = flatbuffers.Builder(1024)
    inp, out = _input_tensor(b, m), _output_tensor(b, m)
    inputs, outputs = offset_vector(b, [inp]), offset_vector(b, [out])
    b.StartObject(F.SubGraphMetadata.COUNT)
    b.PrependUOffsetTRelativeSlot(F.SubGraphMetadata.INPUT_TENSOR_METADATA, inputs, 0)
    b.PrependUOffsetTRelativeSlot(F.SubGraphMetadata.OUTPUT_TENSOR_METADATA, outputs, 0)
    subgraph = b.EndObject()
    subgraphs = offset_vector(b, [subgraph])
    strings = {slot: b.CreateString(text) for slot, text in
               ((MM.NAME, m.name), (MM.DESCRIPTION, m.description), (MM.VERSION, m.version), (MM.AUTHOR, m.author),
                (MM.LICENSE, m.license)) if text}
    model_files = offset_vector(b, [_assoc_file(b, f) for f in m.model_files]) if m.model_files else 0
    parser = b.CreateString(MIN_PARSER_VERSION)
    b.StartObject(MM.COUNT)
    for slot, off in strings.items():
        b.PrependUOffsetTRelativeSlot(slot, off, 0)
    b.PrependUOffsetTRelativeSlot(MM.SUBGRAPH_METADATA, subgraphs, 0)
    if model_files:
        b.PrependUOffsetTRelativeSlot(MM.ASSOCIATED_FILES, model_files, 0)
    b.PrependUOffsetTRelativeSlot(MM.MIN_PARSER_VERSION, parser, 0)
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
    files: list[str] = [f.string(AF.NAME) or "" for f in root.tables(MM.ASSOCIATED_FILES)]
    color, mean, std, labels = "", None, None, None
    subgraphs = root.tables(MM.SUBGRAPH_METADATA)
    if subgraphs:
        sg = subgraphs[0]
        for f in sg.tables(F.SubGraphMetadata.ASSOCIATED_FILES):
            files.append(f.string(AF.NAME) or "")
        inputs = sg.tables(F.SubGraphMetadata.INPUT_TENSOR_METADATA)
        if inputs:
            color, mean, std = _input_props(inputs[0])
        for out in sg.tables(F.SubGraphMetadata.OUTPUT_TENSOR_METADATA):
            for f in out.tables(F.TensorMetadata.ASSOCIATED_FILES):
                files.append(f.string(AF.NAME) or "")
                if labels is None and f.int8(AF.TYPE) == FILE_TENSOR_AXIS_LABELS:
                    labels = f.string(AF.NAME)
    return ParsedMetadata(
        name=root.string(MM.NAME) or "", description=root.string(MM.DESCRIPTION) or "",
        version=root.string(MM.VERSION) or "", author=root.string(MM.AUTHOR) or "",
        license=root.string(MM.LICENSE) or "", min_parser_version=root.string(MM.MIN_PARSER_VERSION) or "",
        color_space=color, mean=mean, std=std, labels_file=labels, files=tuple(f for f in files if f),
    )


def _input_props(t: FbTable) -> tuple[str, tuple[float, ...] | None, tuple[float, ...] | None]:
    color = ""
    content = t.table(F.TensorMetadata.CONTENT)
    if content is not None and content.uint8(F.Content.CONTENT_PROPERTIES_TYPE) == F.CONTENT_IMAGE_PROPERTIES:
        props = content.union(F.Content.CONTENT_PROPERTIES)
        if props is not None:
            code = props.int8(F.ImageProperties.COLOR_SPACE)
            color = next((k for k, v in COLOR_SPACES.items() if v == code), "UNKNOWN")
    mean = std = None
    for unit in t.tables(F.TensorMetadata.PROCESS_UNITS):
        if unit.uint8(F.ProcessUnit.OPTIONS_TYPE) == F.UNIT_NORMALIZATION_OPTIONS:
            opts = unit.union(F.ProcessUnit.OPTIONS)
            if opts is not None:
                norm = F.NormalizationOptions
                mean, std = tuple(opts.floats(norm.MEAN)), tuple(opts.floats(norm.STD))
            break
    return color, mean, std
