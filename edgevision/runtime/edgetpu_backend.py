"""The Edge TPU backend: LiteRT with Coral's libedgetpu delegate (``--delegate edgetpu[:usb|:pci[:N]]``).

The same :class:`~edgevision.runtime.classifier.Classifier` as on the CPU, its interpreter built with the
delegate (:func:`edgevision.runtime.interpreter.load_edgetpu_delegate`, a thin adapter over the system
library); chosen by name (``--backend edgetpu``) it takes the first Edge TPU found.
"""

from __future__ import annotations

from edgevision.runtime import litert_backend
from edgevision.runtime.backends import BackendConfig
from edgevision.runtime.classifier import Classifier


def open_backend(config: BackendConfig, reader_thread: bool = True) -> Classifier:
    if not (config.delegate or "").startswith("edgetpu"):
        config = config._replace(delegate="edgetpu")
    return litert_backend.open_backend(config, reader_thread)
