"""The op graph of a .tflite model (no TensorFlow): who produces and who consumes each tensor.

Selective quantization works on tensors, not layers: an activation with a bad range
(outliers) is only kept in float if the op that produces it AND the ops that read it are
float; a float producer followed by an integer max-pool just re-quantizes the same range.
``island`` finds that set: the op, the range-preserving ops after it (pooling, reshape,
padding...) and the first computing ops that map the values to a new range.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edgevision.runtime.inspect import PSEUDO_OPS, op_table, plain_interpreter

# Ops whose output range is (within) their input range: they carry an outlier forward.
PASS_THROUGH = frozenset({
    "MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "PAD", "PADV2", "CONCATENATION",
    "TRANSPOSE", "SLICE", "STRIDED_SLICE", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR", "MEAN", "RELU", "RELU6", "GATHER", "SPLIT", "SPLIT_V", "PACK", "UNPACK",
})
MAX_ISLAND = 8


@dataclass(frozen=True)
class Op:
    index: int
    kind: str
    output: str          # name of the first output tensor: what ``denylisted_nodes`` matches
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class Graph:
    ops: tuple[Op, ...]

    @classmethod
    def of(cls, data: bytes) -> Graph:
        ops = [Op(o["index"], o["op"], o["outputs"][0]["name"] if o["outputs"] else "",
                  tuple(t["index"] for t in o["inputs"]), tuple(t["index"] for t in o["outputs"]))
               for o in op_table(plain_interpreter(data)) if o["op"] not in PSEUDO_OPS]
        return cls(tuple(ops))

    def by_output(self, name: str) -> Op | None:
        return next((op for op in self.ops if op.output == name), None)

    def consumers(self, op: Op) -> list[Op]:
        outs = set(op.outputs)
        return [o for o in self.ops if outs & set(o.inputs)]

    def island(self, op: Op) -> list[Op]:
        """``op`` plus what must stay float with it for its output to stay float (see module doc)."""
        seen: dict[int, Op] = {op.index: op}
        frontier = [op]
        while frontier and len(seen) < MAX_ISLAND:
            current = frontier.pop(0)
            for c in self.consumers(current):
                if c.index in seen:
                    continue
                seen[c.index] = c
                if c.kind in PASS_THROUGH:
                    frontier.append(c)
        return sorted(seen.values(), key=lambda o: o.index)

    def describe(self, names: list[str], layer_names: Sequence[str] = ()) -> list[dict[str, Any]]:
        out = []
        for n in names:
            op = self.by_output(n)
            out.append({"op": op.kind if op else "?", "layer": layer_label(n, layer_names, op.kind if op else ""),
                        "tensor": n,
                        "index": op.index if op else -1})
        return out


def layer_label(tensor: str, layer_names: Sequence[str], kind: str = "") -> str:
    """The Keras layers fused into a TFLite tensor's op, e.g. ``conv2+bn2+relu2``.

    Ops TFLite adds on its own (a Dense layer's softmax becomes a SOFTMAX op writing the
    model output) match no layer: they are labelled by their kind, else by the tensor name.
    """
    parts = {re.sub(r"_\d+$", "", seg) for piece in tensor.split(";") for seg in piece.split("/")}
    found = [n for n in layer_names if n in parts]
    if found:
        return "+".join(found)
    return f"{kind.lower()} ({tensor})" if kind else tensor
