"""MACs counted from the FlatBuffer match the arithmetic of each layer, float and int8 alike."""

from __future__ import annotations

import pytest

from edgevision.bench.macs import count_macs
from tests.bench.conftest import TINY_MACS


def test_tiny_model_macs_exact(bench_models) -> None:
    for path in (bench_models.float32, bench_models.int8):
        c = count_macs(path.read_bytes())
        assert c.total == TINY_MACS
        assert c.by_op == {"CONV_2D": 32 * 32 * 8 * 27, "DEPTHWISE_CONV_2D": 30 * 30 * 8 * 9, "FULLY_CONNECTED": 40}
        assert c.complete


def test_edgetpu_custom_op_makes_the_count_incomplete(bench_models) -> None:
    c = count_macs(bench_models.edgetpu.read_bytes())
    assert c.custom_ops == ("edgetpu-custom-op",) and not c.complete


def test_garbage_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        count_macs(b"\x01\x02")
