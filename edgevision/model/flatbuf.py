"""Minimal, schema-free access to FlatBuffer tables.

We read and write only a handful of fields of two public schemas (TFLite's ``schema.fbs``
and the TFLite Metadata ``metadata_schema.fbs``). A field is addressed by its slot number
in the schema (the order of declaration), which the schemas promise never to change.
Doing this by hand keeps the model contract readable on a device that has neither
TensorFlow nor the generated schema modules.
"""

from __future__ import annotations

import struct

import flatbuffers
from flatbuffers import number_types as nt
from flatbuffers.table import Table


class FbTable:
    """Read-only view of one table inside a FlatBuffer."""

    def __init__(self, buf: bytes | bytearray | memoryview, pos: int) -> None:
        self._t = Table(buf, pos)
        self.buf = buf

    @classmethod
    def root(cls, buf: bytes | bytearray | memoryview) -> FbTable:
        if len(buf) < 8:
            raise ValueError("buffer too small for a FlatBuffer")
        (offset,) = struct.unpack_from("<I", buf, 0)
        if offset >= len(buf):
            raise ValueError("root offset points outside the buffer")
        return cls(buf, offset)

    def _off(self, slot: int) -> int:
        return self._t.Offset(4 + 2 * slot)

    def has(self, slot: int) -> bool:
        return self._off(slot) != 0

    def scalar(self, slot: int, kind: type, default: int | float = 0) -> int | float:
        o = self._off(slot)
        return self._t.Get(kind, o + self._t.Pos) if o else default

    def uint8(self, slot: int, default: int = 0) -> int:
        return int(self.scalar(slot, nt.Uint8Flags, default))

    def int8(self, slot: int, default: int = 0) -> int:
        return int(self.scalar(slot, nt.Int8Flags, default))

    def int32(self, slot: int, default: int = 0) -> int:
        return int(self.scalar(slot, nt.Int32Flags, default))

    def uint32(self, slot: int, default: int = 0) -> int:
        return int(self.scalar(slot, nt.Uint32Flags, default))

    def uint64(self, slot: int, default: int = 0) -> int:
        return int(self.scalar(slot, nt.Uint64Flags, default))

    def string(self, slot: int) -> str | None:
        o = self._off(slot)
        if not o:
            return None
        return self._t.String(o + self._t.Pos).decode("utf-8", errors="replace")

    def table(self, slot: int) -> FbTable | None:
        o = self._off(slot)
        if not o:
            return None
        return FbTable(self.buf, self._t.Indirect(o + self._t.Pos))

    def union(self, slot: int) -> FbTable | None:
        """The table behind a union's value slot (its type lives in ``slot - 1``)."""
        o = self._off(slot)
        if not o:
            return None
        return FbTable(self.buf, self._t.Indirect(o + self._t.Pos))

    def _vector(self, slot: int) -> tuple[int, int]:
        o = self._off(slot)
        if not o:
            return 0, 0
        return self._t.Vector(o), self._t.VectorLen(o)

    def tables(self, slot: int) -> list[FbTable]:
        start, n = self._vector(slot)
        return [FbTable(self.buf, self._t.Indirect(start + 4 * i)) for i in range(n)]

    def table_at(self, slot: int, i: int) -> FbTable | None:
        """Element ``i`` of a vector of tables, without building the others; None when out of range."""
        start, n = self._vector(slot)
        return FbTable(self.buf, self._t.Indirect(start + 4 * i)) if 0 <= i < n else None

    def strings(self, slot: int) -> list[str]:
        start, n = self._vector(slot)
        return [self._t.String(start + 4 * i).decode("utf-8", errors="replace") for i in range(n)]

    def floats(self, slot: int) -> list[float]:
        start, n = self._vector(slot)
        return list(struct.unpack_from(f"<{n}f", self.buf, start)) if n else []

    def ints(self, slot: int) -> list[int]:
        start, n = self._vector(slot)
        return list(struct.unpack_from(f"<{n}i", self.buf, start)) if n else []

    def bytes_(self, slot: int) -> memoryview:
        start, n = self._vector(slot)
        return memoryview(self.buf)[start:start + n]


def float_vector(b: flatbuffers.Builder, values: list[float] | tuple[float, ...]) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        b.PrependFloat32(float(v))
    return b.EndVector()


def offset_vector(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()
