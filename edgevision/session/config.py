"""One run, configured: what to read, what runs the network, how frames are scheduled, where events go.

A :class:`RunConfig` is built from ``edgevision run``'s options (:meth:`RunConfig.from_options`), from a
release's runtime.json on a device (``edgevision.releases``, no command line in between) and from the
Python API (:func:`edgevision.stream`); :func:`edgevision.session.run.run` runs any of them the same way.
Every part is frozen: a run's configuration is a value, not a set of knobs turned while it runs.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

from collections.abc import Mapping
from typing import Any, NamedTuple

from edgevision.pipeline.drift_config import DriftConfig
from edgevision.pipeline.realtime import PipelineOptions
from edgevision.runtime.backends import BackendConfig
from edgevision.sinks.registry import OutputsConfig
from edgevision.sources.reconnect import ReconnectPolicy


class SourceConfig(NamedTuple):
    """Where frames come from: a path, URL, camera index, ``picamera2[...]``, a backend's own source
    (a sensor that runs the network), or an object with the frame-source methods (Python API).
    ``credentials`` (``user:password`` for a URL source, from the device's own configuration, never from a
    bundle) are used to connect and never shown."""

    spec: Any
    loop: bool = False
    credentials: str | None = None

    def __repr__(self) -> str:  # the credentials are never shown
        return f"SourceConfig(spec={self.spec!r}, loop={self.loop!r})"


class RunConfig(NamedTuple):
    """A whole run. ``quiet``: nothing but events is printed (no summary, no live-view address); ``release``:
    the release a device's service runs (its id, for the metrics), "" otherwise."""

    source: SourceConfig
    backend: BackendConfig
    pipeline: PipelineOptions = PipelineOptions()
    outputs: OutputsConfig = OutputsConfig()
    quiet: bool = False
    drift: DriftConfig = DriftConfig()
    release: str = ""

    @classmethod
    def from_options(cls, model: Any, values: Mapping[str, Any]) -> "RunConfig":
        """From the values of ``edgevision run``'s options (by name, as in
        :data:`edgevision.session.run_options.RUN_TABLE`; an option left out takes its default)."""
        from edgevision.session.run_options import RUN_TABLE

        v = {o.name: o.default for o in RUN_TABLE} | dict(values)
        return cls(
            source=SourceConfig(v["source"], loop=bool(v["loop"])),
            backend=BackendConfig(model=model, labels=v["labels"], top_k=v["top_k"], threshold=v["threshold"],
                                  threads=v["threads"], delegate=v["delegate"], normalization=v["norm"],
                                  name=v["backend"]),
            pipeline=PipelineOptions(realtime=v["realtime"], max_frames=v["max_frames"], smooth=v["smooth"],
                                     reconnect=ReconnectPolicy(read_timeout=v["read_timeout"],
                                                               give_up_after=v["give_up_after"])),
            outputs=OutputsConfig.from_values(v),
            quiet=bool(v["quiet"]),
            drift=DriftConfig(enabled=bool(v["drift"]), profile=v["drift_profile"], window=v["drift_window"],
                              min_frames=max(1, v["drift_window"] // 2), threshold=v["drift_threshold"]),
        )
