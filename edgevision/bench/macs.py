"""Multiply-accumulates per inference, counted from the model's own ops and tensor shapes.

GMAC/s (MACs ÷ latency) makes a latency comparable across models, and MACs ÷ a device's
peak rate gives the fastest time physically possible, which catches measurement bugs.
The count reads the .tflite FlatBuffer directly (``model/tflite_tables.py``: no interpreter, no TensorFlow), so it
works for models that cannot be allocated here. Only the ops that dominate a vision
model's compute are counted (convolutions, fully connected, batched matmul), which is
the convention of published MAC figures (MobileNetV2 1.0/224: about 300 M).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from math import prod

from edgevision.model.opcodes import CUSTOM, operator_codes
from edgevision.model.tflite_tables import Op, batch_matmul_adj_x, graphs

# builtin operator codes from TFLite's schema.fbs (stable: the schema never renumbers)
CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV = 3, 4, 9, 67
BATCH_MATMUL, CONV_3D, CONV_3D_TRANSPOSE = 126, 132, 141
OP_NAMES = {CONV_2D: "CONV_2D", DEPTHWISE_CONV_2D: "DEPTHWISE_CONV_2D", FULLY_CONNECTED: "FULLY_CONNECTED",
            TRANSPOSE_CONV: "TRANSPOSE_CONV", BATCH_MATMUL: "BATCH_MATMUL", CONV_3D: "CONV_3D",
            CONV_3D_TRANSPOSE: "CONV_3D_TRANSPOSE"}


@dataclass(frozen=True)
class MacCount:
    """MACs of one inference (batch as stored in the model), with a per-op breakdown."""

    total: int
    by_op: dict[str, int] = field(default_factory=dict)
    custom_ops: tuple[str, ...] = ()  # ops whose work cannot be counted (e.g. edgetpu-custom-op)

    @property
    def complete(self) -> bool:
        """False when custom ops hide work: the total is then a lower bound, not the model's cost."""
        return not self.custom_ops


def _shape(shapes: tuple[tuple[int, ...], ...], index: int) -> list[int]:
    if index < 0 or index >= len(shapes):
        return []
    return [max(1, d) for d in shapes[index]]


def _macs(code: int, op: Op, shapes: tuple[tuple[int, ...], ...]) -> int:
    ins, outs = op.inputs, op.outputs
    if not outs:
        return 0
    out = _shape(shapes, outs[0])
    if code == CONV_2D and len(ins) > 1:
        w = _shape(shapes, ins[1])  # [out_c, kh, kw, in_c / groups]
        return prod(out) * prod(w[1:]) if len(w) == 4 else 0
    if code == DEPTHWISE_CONV_2D and len(ins) > 1:
        w = _shape(shapes, ins[1])  # [1, kh, kw, out_c]
        return prod(out) * w[1] * w[2] if len(w) == 4 else 0
    if code == FULLY_CONNECTED and len(ins) > 1:
        w = _shape(shapes, ins[1])  # [units, in]
        return prod(out) * w[-1] if w else 0
    if code == TRANSPOSE_CONV and len(ins) > 2:
        w, x = _shape(shapes, ins[1]), _shape(shapes, ins[2])  # weights [out_c, kh, kw, in_c], input NHWC
        return prod(x) * prod(w[:3]) if len(w) == 4 else 0
    if code == BATCH_MATMUL and len(ins) > 1:
        a = _shape(shapes, ins[0])
        adj_x = batch_matmul_adj_x(op.builtin_options)
        k = (a[-2] if adj_x else a[-1]) if len(a) >= 2 else 0
        return prod(out) * k
    if code in (CONV_3D, CONV_3D_TRANSPOSE) and len(ins) > 1:
        w = _shape(shapes, ins[1])  # [kd, kh, kw, in_c, out_c]
        if len(w) != 5:
            return 0
        if code == CONV_3D:
            return prod(out) * prod(w[:4])
        x = _shape(shapes, ins[2]) if len(ins) > 2 else []
        return prod(x) * prod(w[:3]) * w[4]
    return 0


def count_macs(model: bytes) -> MacCount:
    """MACs of every subgraph's counted ops. Raises ValueError on a buffer that is not a FlatBuffer."""
    codes = operator_codes(model)
    by_op: Counter[str] = Counter()
    custom: list[str] = []
    for graph in graphs(model):
        for op in graph.ops:
            index = op.opcode_index
            code, custom_name = (codes[index].builtin, codes[index].custom) if index < len(codes) else (-1, "")
            if code == CUSTOM:
                custom.append(custom_name or "custom")
                continue
            try:
                n = _macs(code, op, graph.shapes)
            except Exception as exc:
                raise ValueError(f"unreadable operator options ({type(exc).__name__})") from exc
            if n:
                by_op[OP_NAMES[code]] += n
    return MacCount(total=sum(by_op.values()), by_op=dict(by_op), custom_ops=tuple(sorted(set(custom))))
