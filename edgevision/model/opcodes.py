"""The operator-code table of a .tflite model, and what it says: which custom ops, compiled for the Edge TPU.

``edgetpu_compiler`` replaces the part of the graph it maps by one custom operator named
``edgetpu-custom-op`` that only libedgetpu can run, so a model is Edge TPU compiled exactly when
its operator-code table holds that custom code (a scan of the raw bytes for the name would also
match a label file or a description that mentions it).

The table is read through ``tflite_tables`` (ai-edge-litert's generated schema module, or the
small reader by named schema slots where only tflite-runtime is installed).
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

from types import ModuleType
from typing import Any, NamedTuple

from edgevision.model import tflite_tables as tables

EDGETPU_CUSTOM_OP = "edgetpu-custom-op"
CUSTOM = 32  # BuiltinOperator.CUSTOM in schema.fbs

# schema.fbs field slots of table OperatorCode (declaration order), for the small reader
OPCODE_DEPRECATED_BUILTIN_CODE, OPCODE_CUSTOM_CODE, OPCODE_VERSION, OPCODE_BUILTIN_CODE = 0, 1, 2, 3


class OpCode(NamedTuple):
    """One entry of ``Model.operator_codes``: the builtin operator, or CUSTOM with its name."""

    builtin: int
    custom: str = ""


def operator_codes(model: bytes, use_schema: bool | None = None) -> list[OpCode]:
    """The model's operator codes. Raises ValueError on bytes that are no FlatBuffer.

    The builtin code is the larger of ``builtin_code`` and ``deprecated_builtin_code``: converters before
    TF 2.4 wrote only the (int8) deprecated field, later ones write both (schema.fbs explains the pair).
    """
    def generated(schema: ModuleType, m: Any) -> list[OpCode]:
        out = []
        for code in (m.OperatorCodes(i) for i in range(m.OperatorCodesLength())):
            custom = code.CustomCode()
            out.append(OpCode(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()),
                              custom.decode("utf-8", errors="replace") if custom else ""))
        return out

    return tables.read(model, use_schema, generated, lambda r: [
        OpCode(max(c.int8(OPCODE_DEPRECATED_BUILTIN_CODE), c.int32(OPCODE_BUILTIN_CODE)),
               c.string(OPCODE_CUSTOM_CODE) or "") for c in r.tables(tables.MODEL_OPERATOR_CODES)])


def custom_ops(model: bytes) -> tuple[str, ...]:
    """Names of the custom operators in the model's table, sorted."""
    return tuple(sorted({c.custom or "custom" for c in operator_codes(model) if c.builtin == CUSTOM}))


def is_edgetpu_model(model: bytes) -> bool:
    """Compiled by edgetpu_compiler: its operator table holds ``edgetpu-custom-op``. False for unreadable bytes
    (whoever loads them says why they are not a model)."""
    try:
        return EDGETPU_CUSTOM_OP in custom_ops(model)
    except Exception:  # noqa: BLE001 - flatbuffers raises whatever garbage bytes provoke
        return False
