"""The LiteRT backend on this machine's CPU: a :class:`~edgevision.runtime.classifier.Classifier`.

ai-edge-litert (or tflite-runtime) with its default XNNPACK kernels. The interpreter gets every core
but one when another thread reads the source, every core for a single image.
"""

from __future__ import annotations

from edgevision.runtime.backends import BackendConfig
from edgevision.runtime.classifier import Classifier, ClassifierOptions
from edgevision.runtime.interpreter import default_threads


def open_backend(config: BackendConfig, reader_thread: bool = True) -> Classifier:
    if isinstance(config.model, Classifier):  # the Python API handed over an open one
        return config.model
    options = ClassifierOptions(
        top_k=config.top_k, threshold=float("-inf") if config.threshold is None else config.threshold,
        threads=config.threads or default_threads(capture_thread=reader_thread), delegate=config.delegate,
        normalization=config.normalization)
    return Classifier(config.model, config.labels, options)
