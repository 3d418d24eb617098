"""MACs of Keras layers the committed tiny models lack, converted here with TensorFlow (desktop side)."""

from __future__ import annotations

import pytest

from edgevision.bench.macs import count_macs
from tests.conftest import HAS_TF, need
from tests.fixtures.make_models import convert


def test_grouped_conv_transpose_conv_and_batch_matmul() -> None:
    need(HAS_TF, "TensorFlow is not installed")
    import tensorflow as tf

    x = tf.keras.Input((16, 16, 4))
    a = tf.keras.layers.Conv2D(8, 3, padding="same", groups=2)(x)
    b = tf.keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(a)
    r = tf.keras.layers.Reshape((32 * 32, 4))(b)
    m = tf.keras.layers.Lambda(lambda t: tf.matmul(t, t, transpose_a=True))(r)
    model = tf.keras.Model(x, m)
    expected = {"CONV_2D": 16 * 16 * 8 * 3 * 3 * 2, "TRANSPOSE_CONV": 16 * 16 * 8 * 3 * 3 * 4,
                "BATCH_MATMUL": 4 * 4 * 1024}
    for int8 in (False, True):
        assert count_macs(convert(model, int8)).by_op == expected


@pytest.mark.slow
def test_mobilenet_v2_matches_the_published_300m_macs() -> None:
    need(HAS_TF, "TensorFlow is not installed")
    import tensorflow as tf

    model = tf.keras.applications.MobileNetV2(input_shape=(224, 224, 3), weights=None)
    total = count_macs(convert(model, int8=False)).total
    assert 295e6 < total < 305e6  # MobileNetV2 paper, Table 4: 300 M multiply-adds
