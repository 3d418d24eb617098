"""[TF] Random training-time transforms, drawn with stateless ops from (seed, epoch, batch).

Stateless draws make a batch's augmentation a pure function of its position, so a run
resumed after a crash sees exactly the images an uninterrupted run would have seen, and
two runs with one seed are identical. All geometric jitter (rotation, zoom, translation)
is one projective warp per image: one resampling, one op per batch.
"""

from __future__ import annotations

import math
from typing import Any

from edgevision.data.settings import Augment


def epoch_seed(seed: int, epoch: int) -> int:
    """A distinct, reproducible 31-bit seed for one epoch's shuffle and augmentation."""
    return (seed * 1_000_003 + epoch * 7919 + 1) % (2**31 - 1)


def augment_batch(images: Any, seed: Any, aug: Augment) -> Any:
    """Augment a float32 batch of 0..255 images (N, H, W, C); ``seed`` is an int64 tensor of shape (2,)."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=7)
    n = tf.shape(images)[0]
    h = tf.cast(tf.shape(images)[1], tf.float32)
    w = tf.cast(tf.shape(images)[2], tf.float32)

    def uniform(i: int, limit: float) -> Any:
        return tf.random.stateless_uniform([n], seeds[i], minval=-limit, maxval=limit)

    x = images
    if aug.flip:
        flip = tf.random.stateless_uniform([n], seeds[0]) < 0.5
        x = tf.where(flip[:, None, None, None], tf.reverse(x, axis=[2]), x)
    if aug.rotation or aug.zoom or aug.translate:
        angle = uniform(1, aug.rotation * 2 * math.pi) if aug.rotation else tf.zeros([n])
        scale = 1.0 + (uniform(2, aug.zoom) if aug.zoom else tf.zeros([n]))  # >1 shows more of the image
        dx = uniform(3, aug.translate) * w if aug.translate else tf.zeros([n])
        dy = uniform(4, aug.translate) * h if aug.translate else tf.zeros([n])
        x = _warp(x, angle, scale, dx, dy, h, w)
    if aug.brightness:
        x = x + uniform(5, aug.brightness * 255.0)[:, None, None, None]
    if aug.contrast:
        factor = 1.0 + uniform(6, aug.contrast)[:, None, None, None]
        mean = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
        x = (x - mean) * factor + mean
    return tf.clip_by_value(x, 0.0, 255.0)


def _warp(x: Any, angle: Any, scale: Any, dx: Any, dy: Any, h: Any, w: Any) -> Any:
    """Rotate by ``angle`` and scale about the centre, then shift; edges reflect (no black corners)."""
    import tensorflow as tf

    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    cos, sin = tf.cos(angle) * scale, tf.sin(angle) * scale
    # maps each output pixel to the input pixel it samples: p_in = A (p_out - c) + c + d
    a0, a1, b0, b1 = cos, -sin, sin, cos
    a2 = cx + dx - a0 * cx - a1 * cy
    b2 = cy + dy - b0 * cx - b1 * cy
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=transforms, output_shape=tf.shape(x)[1:3], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT")
