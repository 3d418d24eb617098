"""[TF] Random training-time transforms, drawn with stateless ops from (seed, epoch, batch).

Stateless draws make a batch's augmentation a pure function of its position, so a run
resumed after a crash sees exactly the images an uninterrupted run would have seen, and
two runs with one seed are identical. All geometric jitter (flip, rotation, zoom,
translation) is one projective warp per image, and brightness and contrast one multiply-add:
few ops per batch, since on a busy CPU each op costs a scheduling round, not just its FLOPs.
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
    # flip and the geometric jitter are one projective warp (one resampling); alone, a flip is a reverse
    flip = tf.random.stateless_uniform([n], seeds[0]) < 0.5 if aug.flip else None
    if aug.rotation or aug.zoom or aug.translate:
        angle = uniform(1, aug.rotation * 2 * math.pi) if aug.rotation else tf.zeros([n])
        scale = 1.0 + (uniform(2, aug.zoom) if aug.zoom else tf.zeros([n]))  # >1 shows more of the image
        dx = uniform(3, aug.translate) * w if aug.translate else tf.zeros([n])
        dy = uniform(4, aug.translate) * h if aug.translate else tf.zeros([n])
        x = _warp(x, angle, scale, dx, dy, h, w, flip)
    elif flip is not None:
        x = tf.where(flip[:, None, None, None], tf.reverse(x, axis=[2]), x)
    if aug.brightness or aug.contrast:
        # brightness b, then contrast f about the mean m: (x + b - (m + b)) f + m + b = x f + (m (1 - f) + b):
        # one multiply-add per pixel with a per-image scale and offset
        b = (uniform(5, aug.brightness * 255.0) if aug.brightness else tf.zeros([n]))[:, None, None, None]
        if aug.contrast:
            f = 1.0 + uniform(6, aug.contrast)[:, None, None, None]
            m = tf.reduce_mean(x, axis=[1, 2], keepdims=True)  # per image and channel
            x = x * f + (m * (1.0 - f) + b)
        else:
            x = x + b
    return tf.clip_by_value(x, 0.0, 255.0)


def _warp(x: Any, angle: Any, scale: Any, dx: Any, dy: Any, h: Any, w: Any, flip: Any = None) -> Any:
    """Rotate by ``angle`` and scale about the centre, then shift, then mirror where ``flip``; edges reflect."""
    import tensorflow as tf

    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    cos, sin = tf.cos(angle) * scale, tf.sin(angle) * scale
    # maps each output pixel to the input pixel it samples: p_in = A (p_out - c) + c + d
    a0, a1, b0, b1 = cos, -sin, sin, cos
    a2 = cx + dx - a0 * cx - a1 * cy
    b2 = cy + dy - b0 * cx - b1 * cy
    if flip is not None:  # sampling a mirrored image at x is sampling the image at w - 1 - x
        sign = tf.where(flip, -1.0, 1.0)
        a0, a1, a2 = a0 * sign, a1 * sign, tf.where(flip, w - 1.0 - a2, a2)
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=transforms, output_shape=tf.shape(x)[1:3], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT")
