"""The pieces of the repair that need no TensorFlow: error metric, op graph and float islands."""

from __future__ import annotations

import numpy as np

from edgevision.convert.debug import LayerError, _channel_error
from edgevision.convert.graph import Graph, layer_label
from edgevision.convert.repair import Trial, match_ops, significantly_better


def test_channel_error_sees_what_rmse_over_scale_misses() -> None:
    rng = np.random.default_rng(0)
    f = rng.uniform(0, 1, (1, 8, 8, 4)).astype(np.float32)
    f[..., 0] *= 300.0                                   # one outlier channel
    scale = float(f.max()) / 255.0                        # per-tensor int8 step
    q = np.round(f / scale)                               # every other channel rounds to ~0
    assert _channel_error(f, q, scale, 0) > 0.3
    fine = rng.uniform(0, 1, (1, 8, 8, 4)).astype(np.float32)
    s2 = float(fine.max()) / 255.0
    assert _channel_error(fine, np.round(fine / s2), s2, 0) < 0.02
    assert _channel_error(np.ones((1, 3)), np.ones((1, 3)), 1.0, 0) == 0.0


def test_islands_follow_the_range_through_pooling(trained) -> None:
    g = Graph.of(trained.int8.read_bytes())
    kinds = [op.kind for op in g.ops]
    convs = [op for op in g.ops if op.kind == "CONV_2D"]
    assert len(convs) == 3 and kinds.count("MAX_POOL_2D") == 3
    island = g.island(convs[1])
    assert [op.kind for op in island] == ["CONV_2D", "MAX_POOL_2D", "CONV_2D"]  # conv2 -> pool2 -> conv3 stops
    assert island[-1] == convs[2]
    last_fc = [op for op in g.ops if op.kind == "FULLY_CONNECTED"][-1]
    assert [op.kind for op in g.island(last_fc)][:2] == ["FULLY_CONNECTED", "SOFTMAX"]


def test_debugger_rows_map_to_ops_in_model_order(trained) -> None:
    g = Graph.of(trained.int8.read_bytes())
    convs = [op for op in g.ops if op.kind == "CONV_2D"]
    rows = [LayerError("CONV_2D", f"renamed_{i}", 0.1 * i, 0.3, 0.01, order=i) for i in range(3)]
    assert [op for _, op in match_ops(rows, g)] == convs
    assert layer_label("m/m/relu2_1/Relu;m/m/conv2_1/convolution", ["conv2", "bn2", "relu2"]) == "conv2+relu2"
    assert layer_label("StatefulPartitionedCall:0", ["conv2"]) == "StatefulPartitionedCall:0"
    assert layer_label("StatefulPartitionedCall:0", ["conv2"], "SOFTMAX") == "softmax (StatefulPartitionedCall:0)"


def test_sign_test_ignores_borderline_flips() -> None:
    def trial(agrees: list[bool]) -> Trial:
        a = np.asarray(agrees)
        return Trial((), 0.0, 0.0, float(a.mean()), a)

    base = trial([True] * 90 + [False] * 10)
    noisy = trial([True] * 89 + [False] + [True] + [False] * 9)     # one gained, one lost
    fixed = trial([True] * 100)
    assert not significantly_better(noisy, base) and significantly_better(fixed, base)
    assert not significantly_better(base, fixed)
