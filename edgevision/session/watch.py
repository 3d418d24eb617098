"""What a run knows about itself for the outputs that watch it: the sinks' context and the drift monitor.

The metrics endpoint labels its series with the model, release, quantization and backend; the drift
monitor needs a reference profile, the model's own (an associated file the converter packed) or one a
device recorded (``--drift-profile``). A model without one runs unwatched, and says so nowhere but in
the context (an empty list of drift signals), since most third-party models have none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgevision.errors import BadInput
from edgevision.model.profile_signals import PROFILE_FILE
from edgevision.pipeline.drift_config import DriftConfig
from edgevision.runtime.backend import Backend
from edgevision.session.config import RunConfig
from edgevision.sinks.registry import SinkContext

if TYPE_CHECKING:
    from edgevision.model.reference_profile import ReferenceProfile
    from edgevision.pipeline.drift import DriftMonitor


def model_profile(backend: Backend) -> ReferenceProfile | None:
    """The reference profile packed in the backend's model file, if it has one."""
    artifact = getattr(backend, "artifact", None)
    data = getattr(artifact, "data", None)
    if not isinstance(data, bytes | bytearray | memoryview):
        return None
    files = getattr(artifact, "files", None)
    if isinstance(files, tuple) and PROFILE_FILE not in files:  # most models: no profile, nothing more to read
        return None
    from edgevision.model.reference_profile import profile_in_model  # here: a run without a profile skips it

    return profile_in_model(bytes(data), str(getattr(artifact, "path", "model")))


def open_monitor(config: DriftConfig, backend: Backend) -> DriftMonitor | None:
    """A drift monitor for this run, or None (turned off, or no profile at hand)."""
    if not config.enabled:
        return None
    if config.profile is not None:
        from edgevision.model.reference_profile import read_profile

        profile, name = read_profile(config.profile), "file"
    else:
        profile, name = model_profile(backend), "model"
    if profile is None:
        return None
    labels = tuple(getattr(backend, "labels", None) or ())
    if profile.labels and labels and profile.labels != labels:
        where = config.profile if config.profile is not None else "the model's profile"
        raise BadInput(f"{where}: recorded for a model with other labels ({len(profile.labels)} labels, this model "
                       f"has {len(labels)}); record a new one with `edgevision device baseline`")
    from edgevision.pipeline.drift import DriftMonitor  # here: NumPy's statistics only for a watched run

    return DriftMonitor(profile, config, name)


def _quantization(backend: Backend) -> str:
    card = getattr(getattr(backend, "artifact", None), "card", None)
    if card is not None and getattr(card, "quantization", ""):
        return str(card.quantization)
    try:
        described: dict[str, Any] = backend.describe()
    except Exception:  # noqa: BLE001 - a description is a nicety; a backend that cannot give one still runs
        return ""
    if described.get("quantization"):
        return str(described["quantization"])
    dtype = str((described.get("input") or {}).get("dtype") or "")
    return "int8" if dtype in ("int8", "uint8") else dtype  # a model without a card: what its input says


def run_context(config: RunConfig, backend: Backend, backend_name: str, monitor: DriftMonitor | None) -> SinkContext:
    """What every sink may know about the run (model, release, runtime, what the drift monitor watches)."""
    info = backend.info
    return SinkContext(model_name=backend.model_name, quiet=config.quiet,
                       labels=tuple(getattr(backend, "labels", None) or ()), release=config.release,
                       quantization=_quantization(backend), backend=backend_name,
                       runtime=f"{info.name} {info.version}".strip(), delegate=info.delegate,
                       drift_signals=monitor.names if monitor is not None else ())
