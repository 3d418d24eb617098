"""edgevision: from a folder of labelled images to real-time labels on a Raspberry Pi or a Coral.

The top-level API is small and never imports TensorFlow: ``Classifier`` (one image at a
time), ``stream`` (label events from a camera, video, folder or URL), ``run`` (a whole
:class:`RunConfig`: source, backend, pipeline and outputs, as ``edgevision run`` and a device's
service run it) and ``load_artifact`` (what a model file says about itself). Names are resolved
lazily so ``import edgevision`` stays cheap on a device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgevision.version import __version__

__all__ = ["Classifier", "ClassifierOptions", "LabelEvent", "Prediction", "RunConfig", "__version__", "load_artifact",
           "run", "stream"]

_LAZY = {
    "Classifier": "edgevision.runtime.classifier",
    "ClassifierOptions": "edgevision.runtime.classifier",
    "Prediction": "edgevision.runtime.postprocess",
    "LabelEvent": "edgevision.pipeline.events",
    "stream": "edgevision.session.stream",
    "run": "edgevision.session.run",
    "RunConfig": "edgevision.session.config",
    "load_artifact": "edgevision.model.artifact",
}

if TYPE_CHECKING:
    from edgevision.model.artifact import load_artifact
    from edgevision.pipeline.events import LabelEvent
    from edgevision.runtime.classifier import Classifier, ClassifierOptions
    from edgevision.runtime.postprocess import Prediction
    from edgevision.session.config import RunConfig
    from edgevision.session.run import run
    from edgevision.session.stream import stream


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'edgevision' has no attribute {name!r}")
