"""Minimal, schema-free access to FlatBuffer tables.

We read and write only a handful of fields of two public schemas (TFLite's ``schema.fbs``
and the TFLite Metadata ``metadata_schema.fbs``). A field is addressed by its slot number
in the schema (the order of declaration), which the schemas promise never to change.
Doing this by hand keeps the model contract readable on a device that has neither
TensorFlow nor the generated schema modules.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the builder is only for writing metadata; reading needs nothing but struct
    import flatbuffers

_I32, _U16, _U32 = struct.Struct("<i"), struct.Struct("<H"), struct.Struct("<I")
_U8, _I8, _U64 = struct.Struct("<B"), struct.Struct("<b"), struct.Struct("<Q")


class FbTable:
    """Read-only view of one table inside a FlatBuffer (the format's rules, read with ``struct``: this sits
    on the path to every model's first label, and importing the flatbuffers package costs more than
    reading the few fields we need)."""

    def __init__(self, buf: bytes | bytearray | memoryview, pos: int) -> None:
        self.buf, self.pos = buf, pos

    @classmethod
    def root(cls, buf: bytes | bytearray | memoryview) -> FbTable:
        if len(buf) < 8:
            raise ValueError("buffer too small for a FlatBuffer")
        (offset,) = _U32.unpack_from(buf, 0)
        if offset >= len(buf):
            raise ValueError("root offset points outside the buffer")
        return cls(buf, offset)

    def _off(self, slot: int) -> int:
        """The field's offset from the table's start, or 0 when the field is absent (its vtable entry)."""
        vtable = self.pos - _I32.unpack_from(self.buf, self.pos)[0]
        entry = 4 + 2 * slot
        if entry >= _U16.unpack_from(self.buf, vtable)[0]:
            return 0
        return int(_U16.unpack_from(self.buf, vtable + entry)[0])

    def _indirect(self, at: int) -> int:
        return at + int(_U32.unpack_from(self.buf, at)[0])

    def _string_at(self, at: int) -> str:
        start = self._indirect(at)
        (n,) = _U32.unpack_from(self.buf, start)
        if start + 4 + n > len(self.buf):
            raise ValueError("string runs past the buffer")
        return bytes(self.buf[start + 4:start + 4 + n]).decode("utf-8", errors="replace")

    def has(self, slot: int) -> bool:
        return self._off(slot) != 0

    def _scalar(self, slot: int, kind: struct.Struct, default: int) -> int:
        o = self._off(slot)
        return int(kind.unpack_from(self.buf, self.pos + o)[0]) if o else default

    def uint8(self, slot: int, default: int = 0) -> int:
        return self._scalar(slot, _U8, default)

    def int8(self, slot: int, default: int = 0) -> int:
        return self._scalar(slot, _I8, default)

    def int32(self, slot: int, default: int = 0) -> int:
        return self._scalar(slot, _I32, default)

    def uint32(self, slot: int, default: int = 0) -> int:
        return self._scalar(slot, _U32, default)

    def uint64(self, slot: int, default: int = 0) -> int:
        return self._scalar(slot, _U64, default)

    def string(self, slot: int) -> str | None:
        o = self._off(slot)
        return self._string_at(self.pos + o) if o else None

    def table(self, slot: int) -> FbTable | None:
        o = self._off(slot)
        if not o:
            return None
        return FbTable(self.buf, self._indirect(self.pos + o))

    def union(self, slot: int) -> FbTable | None:
        """The table behind a union's value slot (its type lives in ``slot - 1``): stored like a table field."""
        return self.table(slot)

    def _vector(self, slot: int, item: int = 4) -> tuple[int, int]:
        """Where a vector's items start and how many it declares, refused when they would run past the buffer:
        a 4-byte length can claim 4 billion items, and nothing is built for them before this check."""
        o = self._off(slot)
        if not o:
            return 0, 0
        at = self._indirect(self.pos + o)
        (n,) = _U32.unpack_from(self.buf, at)
        if at + 4 + n * item > len(self.buf):
            raise ValueError(f"a vector of {n:,} items runs past the buffer")
        return at + 4, int(n)

    def length(self, slot: int) -> int:
        """How many items a vector of tables (or of 4-byte scalars) holds, without reading any of them."""
        return self._vector(slot)[1]

    def tables(self, slot: int) -> list[FbTable]:
        start, n = self._vector(slot)
        return [FbTable(self.buf, self._indirect(start + 4 * i)) for i in range(n)]

    def table_at(self, slot: int, i: int) -> FbTable | None:
        """Element ``i`` of a vector of tables, without building the others; None when out of range."""
        start, n = self._vector(slot)
        return FbTable(self.buf, self._indirect(start + 4 * i)) if 0 <= i < n else None

    def strings(self, slot: int) -> list[str]:
        start, n = self._vector(slot)
        return [self._string_at(start + 4 * i) for i in range(n)]

    def floats(self, slot: int) -> list[float]:
        start, n = self._vector(slot)
        return list(struct.unpack_from(f"<{n}f", self.buf, start)) if n else []

    def ints(self, slot: int) -> list[int]:
        start, n = self._vector(slot)
        return list(struct.unpack_from(f"<{n}i", self.buf, start)) if n else []

    def bytes_(self, slot: int) -> memoryview:
        start, n = self._vector(slot, item=1)
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
