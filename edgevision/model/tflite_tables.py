"""The tables of a .tflite model that edgevision reads, through the generated schema or the small reader.

Models are read by the small reader of ``flatbuf.py``, by the slots named below after their
fields in ``schema.fbs``: it is all a device with only tflite-runtime has (armv7l, where
ai-edge-litert has no wheels), and everywhere else it spares each start the import of
ai-edge-litert's generated ``schema_py_generated`` (17 ms on a desktop core, several times that
on a Pi), which ``edgevision run`` would pay before its first label. The generated module reads
the same fields when asked (``use_schema=True``); ``tests/test_tflite_tables.py`` checks that
both give the same answers on real models, and the slot names against the generated module.

Nothing here imports TensorFlow; every reader raises ``ValueError`` on bytes it cannot read.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

import struct
from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple, TypeVar

from edgevision.model.flatbuf import FbTable

_I32, _U16, _U32 = struct.Struct("<i"), struct.Struct("<H"), struct.Struct("<I")

# schema.fbs field slots (declaration order; a union takes <name>_type then <name>), for the small reader
MODEL_OPERATOR_CODES, MODEL_SUBGRAPHS, MODEL_BUFFERS, MODEL_METADATA = 1, 2, 4, 6
SUBGRAPH_TENSORS, SUBGRAPH_OPERATORS = 0, 3
TENSOR_SHAPE = 0
OPERATOR_OPCODE_INDEX, OPERATOR_INPUTS, OPERATOR_OUTPUTS, OPERATOR_BUILTIN_OPTIONS = 0, 1, 2, 4
BUFFER_DATA, BUFFER_OFFSET, BUFFER_SIZE = 0, 1, 2
METADATA_NAME, METADATA_BUFFER = 0, 1
BATCH_MATMUL_OPTIONS_ADJ_X = 0

T = TypeVar("T")


class Buffer(NamedTuple):
    """``Model.buffers[i]``: inline ``data``, or (models over 2 GB) ``offset``/``size`` into the file."""

    data: bytes
    offset: int
    size: int


class Op(NamedTuple):
    opcode_index: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    builtin_options: Any  # the options table (a flatbuffers Table or FbTable); read with batch_matmul_adj_x


class Graph(NamedTuple):
    """One subgraph: each tensor's shape and the operators in execution order."""

    shapes: tuple[tuple[int, ...], ...]
    ops: tuple[Op, ...]


def schema_module() -> ModuleType | None:
    """ai-edge-litert's generated schema module, or None where it is not installed (tflite-runtime)."""
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        return None
    return schema_py_generated


def read(data: bytes, use_schema: bool | None, generated: Callable[[ModuleType, Any], T],
          small: Callable[[FbTable], T]) -> T:
    """``small(root table)``, or ``generated(schema, Model)`` with ``use_schema=True`` (tests compare
    both). Any failure to read is a ValueError."""
    if len(data) < 8:
        raise ValueError("buffer too small for a FlatBuffer")
    schema = schema_module() if use_schema else None
    if use_schema and schema is None:
        raise ValueError("ai-edge-litert's schema module is not installed")
    try:
        return generated(schema, schema.Model.GetRootAs(data, 0)) if schema is not None else small(FbTable.root(data))
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"unreadable FlatBuffer ({type(exc).__name__}: {exc})") from exc


def _ints(array: Any) -> tuple[int, ...]:
    """``XAsNumpy()`` of the generated module returns 0 for an absent vector."""
    return () if isinstance(array, int) else tuple(int(v) for v in array)


class Counts(NamedTuple):
    """How many of each thing a model declares, from its vectors' lengths alone (nothing is built for them)."""

    subgraphs: int
    tensors: int      # all subgraphs together
    operators: int    # all subgraphs together
    buffers: int      # weight buffers, metadata entries and operator codes together


def counts(data: bytes) -> Counts:
    """What :func:`graphs` and :func:`buffers` would build, counted first: a 800 KB file can list 200,000
    tensors (every entry pointing at one table), and reading them all costs hundreds of megabytes."""
    def small(r: FbTable) -> Counts:
        n_graphs = r.length(MODEL_SUBGRAPHS)
        tensors = operators = 0
        for i in range(min(n_graphs, 1 << 16)):
            g = r.table_at(MODEL_SUBGRAPHS, i)
            if g is not None:
                tensors += g.length(SUBGRAPH_TENSORS)
                operators += g.length(SUBGRAPH_OPERATORS)
        return Counts(n_graphs, tensors, operators, r.length(MODEL_BUFFERS) + r.length(MODEL_METADATA)
                      + r.length(MODEL_OPERATOR_CODES))

    return read(data, False, lambda s, m: small(FbTable.root(data)), small)


def entries(data: bytes, most: int) -> int:
    """How many shape dimensions and operator inputs/outputs the model's tensors and operators hold, all
    subgraphs together (counting stops past ``most``). Every tensor may point at one shape vector of a
    thousand entries: 50,000 tensors then build 50 million of them (the small reader's tuples, and the
    interpreter's own arrays). Read with bare struct calls: this runs before every model's first label."""
    unpack_i32, unpack_u16, unpack_u32 = _I32.unpack_from, _U16.unpack_from, _U32.unpack_from
    n = len(data)

    def field(table: int, slot: int) -> int:
        """The position of a table's vector field's length word, or 0 when the field is absent."""
        vtable = table - unpack_i32(data, table)[0]
        entry = 4 + 2 * slot
        if entry >= unpack_u16(data, vtable)[0]:
            return 0
        off = unpack_u16(data, vtable + entry)[0]
        return table + off + unpack_u32(data, table + off)[0] if off else 0

    def vector(at: int) -> tuple[int, int]:
        if not at:
            return 0, 0
        count = unpack_u32(data, at)[0]
        if at + 4 + 4 * count > n:
            raise ValueError(f"a vector of {count:,} items runs past the buffer")
        return at + 4, count

    def items(at: int) -> list[int]:
        start, count = vector(at)
        return [start + 4 * i + unpack_u32(data, start + 4 * i)[0] for i in range(count)]

    def small(r: FbTable) -> int:
        total = 0
        for graph in items(field(r.pos, MODEL_SUBGRAPHS)):
            for tensor in items(field(graph, SUBGRAPH_TENSORS)):
                total += vector(field(tensor, TENSOR_SHAPE))[1]
                if total > most:
                    return total
            for op in items(field(graph, SUBGRAPH_OPERATORS)):
                total += vector(field(op, OPERATOR_INPUTS))[1] + vector(field(op, OPERATOR_OUTPUTS))[1]
                if total > most:
                    return total
        return total

    return read(data, False, lambda s, m: small(FbTable.root(data)), small)


def subgraph_count(data: bytes, use_schema: bool | None = None) -> int:
    return read(data, use_schema, lambda s, m: m.SubgraphsLength(), lambda r: len(r.tables(MODEL_SUBGRAPHS)))


def buffers(data: bytes, use_schema: bool | None = None) -> list[Buffer]:
    def generated(schema: ModuleType, m: Any) -> list[Buffer]:
        out = []
        for i in range(m.BuffersLength()):
            b = m.Buffers(i)
            raw = b.DataAsNumpy()
            out.append(Buffer(b"" if isinstance(raw, int) else raw.tobytes(), int(b.Offset()), int(b.Size())))
        return out

    return read(data, use_schema, generated, lambda r: [
        Buffer(bytes(b.bytes_(BUFFER_DATA)), b.uint64(BUFFER_OFFSET), b.uint64(BUFFER_SIZE))
        for b in r.tables(MODEL_BUFFERS)])


def buffers_at(data: bytes, indices: list[int], use_schema: bool | None = None) -> dict[int, Buffer]:
    """``Model.buffers[i]`` for the ``indices`` that exist, without reading the others (a model has one
    buffer per weight tensor; its metadata needs two or three of them)."""
    def generated(schema: ModuleType, m: Any) -> dict[int, Buffer]:
        out = {}
        for i in indices:
            if 0 <= i < m.BuffersLength():
                b = m.Buffers(i)
                raw = b.DataAsNumpy()
                out[i] = Buffer(b"" if isinstance(raw, int) else raw.tobytes(), int(b.Offset()), int(b.Size()))
        return out

    def small(r: FbTable) -> dict[int, Buffer]:
        out = {}
        for i in indices:
            b = r.table_at(MODEL_BUFFERS, i)
            if b is not None:
                out[i] = Buffer(bytes(b.bytes_(BUFFER_DATA)), b.uint64(BUFFER_OFFSET), b.uint64(BUFFER_SIZE))
        return out

    return read(data, use_schema, generated, small)


def buffer_extents(data: bytes, use_schema: bool | None = None) -> list[tuple[int, int]]:
    """``(offset, size)`` of every ``Model.buffers[i]`` (offset > 1: the bytes live past the FlatBuffer),
    without copying any buffer's data (a model's weights are most of its bytes)."""
    return read(data, use_schema, lambda s, m: [(int(m.Buffers(i).Offset()), int(m.Buffers(i).Size()))
                                                for i in range(m.BuffersLength())],
                lambda r: [(b.uint64(BUFFER_OFFSET), b.uint64(BUFFER_SIZE)) for b in r.tables(MODEL_BUFFERS)])


def metadata_entries(data: bytes, use_schema: bool | None = None) -> list[tuple[str, int]]:
    """``Model.metadata``: (name, buffer index) pairs."""
    def generated(schema: ModuleType, m: Any) -> list[tuple[str, int]]:
        return [((e.Name() or b"").decode("utf-8", errors="replace"), int(e.Buffer()))
                for e in (m.Metadata(i) for i in range(m.MetadataLength()))]

    return read(data, use_schema, generated, lambda r: [
        (e.string(METADATA_NAME) or "", e.uint32(METADATA_BUFFER)) for e in r.tables(MODEL_METADATA)])


def graphs(data: bytes, use_schema: bool | None = None) -> list[Graph]:
    def generated(schema: ModuleType, m: Any) -> list[Graph]:
        out = []
        for g in (m.Subgraphs(i) for i in range(m.SubgraphsLength())):
            shapes = tuple(_ints(g.Tensors(t).ShapeAsNumpy()) for t in range(g.TensorsLength()))
            ops = tuple(Op(int(o.OpcodeIndex()), _ints(o.InputsAsNumpy()), _ints(o.OutputsAsNumpy()),
                           o.BuiltinOptions()) for o in (g.Operators(k) for k in range(g.OperatorsLength())))
            out.append(Graph(shapes, ops))
        return out

    def small(r: FbTable) -> list[Graph]:
        return [Graph(tuple(tuple(t.ints(TENSOR_SHAPE)) for t in g.tables(SUBGRAPH_TENSORS)),
                      tuple(Op(o.uint32(OPERATOR_OPCODE_INDEX), tuple(o.ints(OPERATOR_INPUTS)),
                               tuple(o.ints(OPERATOR_OUTPUTS)), o.union(OPERATOR_BUILTIN_OPTIONS))
                            for o in g.tables(SUBGRAPH_OPERATORS)))
                for g in r.tables(MODEL_SUBGRAPHS)]

    return read(data, use_schema, generated, small)


def batch_matmul_adj_x(options: Any) -> bool:
    """``BatchMatMulOptions.adj_x`` of an operator's options table (False when there is none)."""
    if options is None:
        return False
    if isinstance(options, FbTable):
        return bool(options.uint8(BATCH_MATMUL_OPTIONS_ADJ_X))
    schema = schema_module()
    assert schema is not None  # a generated Table only comes from the generated module
    opts = schema.BatchMatMulOptions()
    opts.Init(options.Bytes, options.Pos)
    return bool(opts.AdjX())
