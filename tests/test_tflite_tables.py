"""Models read through ai-edge-litert's generated schema and through the small reader (what edgevision reads
models with) give the same answers, and every slot the small reader uses is the generated schema's."""

from __future__ import annotations

import inspect
import re

import pytest

from edgevision.model import opcodes, tflite_tables
from edgevision.model.opcodes import operator_codes
from edgevision.model.tflite_tables import (
    batch_matmul_adj_x,
    buffer_extents,
    buffers,
    buffers_at,
    graphs,
    metadata_entries,
    subgraph_count,
)
from tests.conftest import FIXTURE_MODELS
from tests.fixtures.tflite_edit import with_custom_op

schema = pytest.importorskip("ai_edge_litert.schema_py_generated")

# the small reader's constant -> the generated builder function that writes that field
SLOTS = {
    "MODEL_OPERATOR_CODES": "ModelAddOperatorCodes", "MODEL_SUBGRAPHS": "ModelAddSubgraphs",
    "MODEL_BUFFERS": "ModelAddBuffers", "MODEL_METADATA": "ModelAddMetadata",
    "SUBGRAPH_TENSORS": "SubGraphAddTensors", "SUBGRAPH_OPERATORS": "SubGraphAddOperators",
    "TENSOR_SHAPE": "TensorAddShape", "OPERATOR_OPCODE_INDEX": "OperatorAddOpcodeIndex",
    "OPERATOR_INPUTS": "OperatorAddInputs", "OPERATOR_OUTPUTS": "OperatorAddOutputs",
    "OPERATOR_BUILTIN_OPTIONS": "OperatorAddBuiltinOptions", "BUFFER_DATA": "BufferAddData",
    "BUFFER_OFFSET": "BufferAddOffset", "BUFFER_SIZE": "BufferAddSize", "METADATA_NAME": "MetadataAddName",
    "METADATA_BUFFER": "MetadataAddBuffer", "BATCH_MATMUL_OPTIONS_ADJ_X": "BatchMatMulOptionsAddAdjX",
}
OPCODE_SLOTS = {"OPCODE_DEPRECATED_BUILTIN_CODE": "OperatorCodeAddDeprecatedBuiltinCode",
                "OPCODE_CUSTOM_CODE": "OperatorCodeAddCustomCode", "OPCODE_BUILTIN_CODE": "OperatorCodeAddBuiltinCode"}


def _slot(function: str) -> int:
    m = re.search(r"Prepend\w*Slot\((\d+),", inspect.getsource(getattr(schema, function)))
    assert m, function
    return int(m.group(1))


def test_every_slot_of_the_small_reader_is_the_generated_schemas() -> None:
    for name, function in SLOTS.items():
        assert getattr(tflite_tables, name) == _slot(function), name
    for name, function in OPCODE_SLOTS.items():
        assert getattr(opcodes, name) == _slot(function), name


def _models() -> dict[str, bytes]:
    out = {p.name: p.read_bytes() for p in sorted(FIXTURE_MODELS.glob("*.tflite"))}
    out["edgetpu"] = with_custom_op(out["tiny_int8.tflite"], "edgetpu-custom-op")
    return out


@pytest.mark.parametrize("name", sorted(_models()))
def test_both_readers_agree(name: str) -> None:
    data = _models()[name]
    for read in (subgraph_count, buffers, buffer_extents, metadata_entries, operator_codes):
        assert read(data, use_schema=True) == read(data, use_schema=False), read.__name__
        assert read(data) == read(data, use_schema=False), read.__name__  # the default is the small reader
    every = buffers(data)
    wanted = [0, len(every) - 1, len(every), -1]
    assert buffers_at(data, wanted) == buffers_at(data, wanted, use_schema=True) == {
        i: every[i] for i in wanted if 0 <= i < len(every)}
    a, b = graphs(data, use_schema=True), graphs(data, use_schema=False)
    assert [g.shapes for g in a] == [g.shapes for g in b] and len(a[0].ops) > 2
    for x, y in zip(a[0].ops, b[0].ops, strict=True):
        assert (x.opcode_index, x.inputs, x.outputs) == (y.opcode_index, y.inputs, y.outputs)
        assert batch_matmul_adj_x(x.builtin_options) == batch_matmul_adj_x(y.builtin_options)
    if name.startswith("shapes"):  # edgevision's models carry TFLite Metadata and the converter's entries
        assert "TFLITE_METADATA" in dict(metadata_entries(data, use_schema=False))


@pytest.mark.parametrize("garbage", [b"", b"\x01\x02", b"\x10\x00\x00\x00TFL3" + b"\xff" * 40])
def test_garbage_is_a_value_error_either_way(garbage: bytes) -> None:
    for use_schema in (True, False):
        for read in (graphs, subgraph_count, buffer_extents, metadata_entries):
            with pytest.raises(ValueError):
                read(garbage, use_schema=use_schema)
