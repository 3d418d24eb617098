"""Shared pieces of the runtime benchmarks: a model big enough to time, a paced 640x480 camera, RSS.

The model is a Keras MobileNetV2 (alpha 1.0, 224 px, random weights, no download) converted
to full-integer int8 in a subprocess (so TensorFlow never loads into the measuring process)
and cached under ``benchmarks/.cache``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from edgevision.device.frames import Frame, SourceInfo

CACHE = Path(__file__).resolve().parent / ".cache"
BUILD = r"""
import sys, numpy as np, tensorflow as tf
size, alpha = int(sys.argv[2]), float(sys.argv[3])
tf.keras.utils.set_random_seed(0)
m = tf.keras.applications.MobileNetV2(input_shape=(size, size, 3), alpha=alpha, weights=None, classes=10)
conv = tf.lite.TFLiteConverter.from_keras_model(m)
conv.optimizations = [tf.lite.Optimize.DEFAULT]
rng = np.random.default_rng(0)
conv.representative_dataset = lambda: ([rng.uniform(-1, 127 / 128, (1, size, size, 3)).astype(np.float32)]
                                       for _ in range(20))
conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
conv.inference_input_type = conv.inference_output_type = tf.uint8
open(sys.argv[1], "wb").write(conv.convert())
"""


def bench_model(size: int = 224, alpha: float = 1.0) -> Path:
    """Path of the cached int8 MobileNetV2 model (invoke takes a few ms on one core), built on first use."""
    path = CACHE / f"mobilenet_v2_{alpha:g}_{size}_int8.tflite"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"building {path.name} with TensorFlow (once)…", file=sys.stderr)
        subprocess.run([sys.executable, "-c", BUILD, str(path), str(size), str(alpha)], check=True,
                       env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    return path


class PacedCamera:
    """A live 640x480 source that delivers at ``fps`` like a camera: read() blocks until the next frame.

    ``t_capture`` is the moment the frame is handed over, i.e. the glass time of a camera
    with no internal buffering, so t_emit - t_capture is the pipeline's glass-to-label latency.
    """

    live = True

    def __init__(self, fps: float, width: int = 640, height: int = 480, frames: int = 8) -> None:
        rng = np.random.default_rng(1)
        self.fps, self.width, self.height = fps, width, height
        self._frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(frames)]
        self._i = 0
        self._next = 0.0
        self.closed = False

    def fresh(self) -> PacedCamera:
        return PacedCamera(self.fps, self.width, self.height, len(self._frames))

    def open(self) -> SourceInfo:
        self._next = time.perf_counter()
        return SourceInfo(f"paced{self.fps:.0f}", "synthetic", True, self.fps, self.width, self.height)

    def read(self) -> Frame | None:
        if self.closed:
            return None
        self._next += 1.0 / self.fps
        delay = self._next - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        else:
            self._next = time.perf_counter()
        img = self._frames[self._i % len(self._frames)]
        self._i += 1
        return Frame(img, self._i - 1, "paced", time.time(), 0.0)

    def close(self) -> None:
        self.closed = True


def rss_mb() -> float:
    """Current resident set size (not the peak), from /proc."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"
