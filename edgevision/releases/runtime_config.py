"""What runs on the device: the runtime configuration a bundle carries, and the run configuration it becomes.

A bundle holds data only. The device's own edgevision reads this configuration, checks every value
against the run option table, and turns it into a :class:`~edgevision.session.config.RunConfig` in the
service's own process (``edgevision device serve``): nothing shipped is executed, pasted into the unit
or into a command line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from edgevision.errors import BadInput
from edgevision.optionspec import convert
from edgevision.releases import device_secrets
from edgevision.releases.config_checks import check_sink, check_source, check_text, control_char
from edgevision.session.config import RunConfig
from edgevision.session.run_options import BUNDLE_OPTIONS
from edgevision.sinks.registry import SINKS

SINK_KIND = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
DELEGATE = re.compile(r"^(cpu|edgetpu(:(usb|pci)(:\d+)?)?)$")


@dataclass(frozen=True)
class Sink:
    """A run option a bundle sets, written ``KIND[=VALUE]`` (e.g. ``mqtt=mqtt://broker/t``, ``web=8080``,
    ``no-stdout``): one of the options the run option table lets a bundle set (``BUNDLE_OPTIONS``)."""

    kind: str
    value: str | None = None

    @classmethod
    def parse(cls, spec: str) -> Sink:
        kind, sep, value = check_text(spec, "--sink", 2048).partition("=")
        kind = kind.strip().lower()
        if not SINK_KIND.match(kind):
            raise BadInput(f"--sink {kind[:40]!r}: expected KIND[=VALUE] such as mqtt=mqtt://broker/topic or web=8080")
        if sep and not value:
            raise BadInput(f"--sink {kind}: empty value after '='")
        check_sink(kind, value if sep else None)
        return cls(kind, value if sep else None)

    def option(self) -> tuple[str, Any]:
        """The run option this sets (by name) and its value, typed."""
        option, on = BUNDLE_OPTIONS[self.kind]
        return option.name, (on if option.kind is bool else convert(option, self.value or ""))

    def __str__(self) -> str:
        return self.kind if self.value is None else f"{self.kind}={self.value}"


@dataclass(frozen=True)
class RuntimeConfig:
    """How the device runs the bundle's model: ``edgevision run`` options, nothing else."""

    model: str                      # file name inside the bundle
    source: str                     # camera index, picamera2, a URL, or a path on the device
    delegate: str = "cpu"
    threads: int = 0                # 0: edgevision run's default (cores - 1 with a capture thread)
    top_k: int = 3
    threshold: float | None = None
    smooth: int = 1
    loop: bool = False
    labels: str | None = None       # labels file inside the bundle, for models without embedded labels
    sinks: tuple[Sink, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in (self.model, self.labels):
            if name is not None and (not isinstance(name, str) or not is_plain_name(name)):
                raise BadInput(f"runtime config: {name!r} must be a plain file name inside the bundle")
        if not DELEGATE.match(self.delegate):
            raise BadInput(f"runtime config: delegate {self.delegate!r} is not cpu or edgetpu[:usb|:pci[:N]]")
        if not isinstance(self.source, str):
            raise BadInput("runtime config: source must be a string")
        try:
            check_source(self.source)
        except BadInput as exc:
            raise BadInput(f"runtime config: {exc}") from None
        for sink in self.sinks:
            if not isinstance(sink, Sink):
                raise BadInput("runtime config: sinks must be parsed Sink entries")
            check_sink(sink.kind, sink.value)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (self.threads, self.top_k, self.smooth)) \
                or not isinstance(self.loop, bool) or not isinstance(self.delegate, str) \
                or (self.threshold is not None and not isinstance(self.threshold, int | float)):
            raise BadInput("runtime config: threads, top_k, smooth must be integers, loop a boolean, "
                           "threshold a number")
        if self.threads > 64 or self.top_k > 1000 or self.smooth > 1000 or \
                (self.threshold is not None and not 0.0 <= float(self.threshold) <= 1.0):
            raise BadInput("runtime config: threads at most 64, top_k and smooth at most 1000, threshold 0..1")
        if self.threads < 0 or self.top_k < 1 or self.smooth < 1:
            raise BadInput("runtime config: threads must be >= 0, top_k and smooth >= 1")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sinks"] = [str(s) for s in self.sinks]
        return d

    @classmethod
    def from_dict(cls, data: Any, origin: str = "runtime config") -> RuntimeConfig:
        """Decoded data checked against the declared schema (types, lengths, known keys), then value by value."""
        from edgevision.documents import convert
        from edgevision.releases.release_schemas import RuntimeDoc

        if not isinstance(data, dict):
            raise BadInput(f"{origin}: expected a JSON object")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise BadInput(f"{origin}: unknown key(s) {', '.join(map(str, unknown))[:200]} (written by a newer "
                           "edgevision?)")
        return cls._from_doc(convert(data, RuntimeDoc, origin), origin)

    @classmethod
    def from_json(cls, raw: bytes, origin: str) -> RuntimeConfig:
        """runtime.json, read by the one document reader."""
        from edgevision.documents import decode_json
        from edgevision.releases.release_schemas import RuntimeDoc

        return cls._from_doc(decode_json(raw, RuntimeDoc, origin), origin)

    @classmethod
    def _from_doc(cls, doc: Any, origin: str) -> RuntimeConfig:
        try:
            return cls(model=doc.model, source=doc.source, delegate=doc.delegate, threads=doc.threads,
                       top_k=doc.top_k, threshold=doc.threshold, smooth=doc.smooth, loop=doc.loop, labels=doc.labels,
                       sinks=tuple(Sink.parse(s) for s in doc.sinks))
        except BadInput as exc:
            raise BadInput(f"{origin}: {exc}") from None

    def run_config(self, release: Path, labels_out: Path, device_root: Path | None = None,
                   verified: Mapping[str, bytes] | None = None, samples: Path | None = None,
                   drift_profile: Path | None = None) -> RunConfig:
        """How the device runs this release (``edgevision device serve``): the bundle's settings, its sinks,
        the labels log the service always writes, (with ``device_root``) the device's own secrets at their
        fixed names (the camera's credentials; a sink's credentials, keys, token), the samples folder it keeps
        frames worth labelling in, and a reference profile recorded on the device (when there is one);
        nothing else on stdout or stderr.

        ``verified``: the release's files as they were hashed against its manifest; a .tflite model then runs
        from those bytes (and its labels from theirs), never from a second read of the files."""
        labels = release / self.labels if self.labels else None
        model: Any = release / self.model
        if verified and self.model.endswith(".tflite") and self.model in verified:
            from edgevision.model.artifact import load_artifact

            model = load_artifact(model, labels, data=verified[self.model],
                                  labels_data=verified.get(self.labels) if self.labels else None)
            labels = None
        values: dict[str, Any] = {"source": self.source, "top_k": self.top_k, "threshold": self.threshold,
                                  "smooth": self.smooth, "loop": self.loop, "threads": self.threads or None,
                                  "delegate": None if self.delegate == "cpu" else self.delegate,
                                  "labels": labels}
        values |= dict(sink.option() for sink in self.sinks)
        values |= {"out": labels_out, "quiet": True}
        if samples is not None:
            values["samples"] = samples
        if drift_profile is not None:
            values["drift_profile"] = drift_profile
        credentials = None
        if device_root is not None:
            found = device_secrets.present(device_root)
            for kind in SINKS:  # a sink the bundle turned on reads the device's files for it
                if kind.enabled(values):
                    values |= {o.name: found[o.device_file] for o in kind.options if o.device_file in found}
            if "://" in self.source:
                credentials = device_secrets.source_credentials(device_root)
        config = RunConfig.from_options(model, values)
        return config._replace(source=config.source._replace(credentials=credentials)) if credentials else config


def with_profile_sinks(extra: dict[str, Any], given: tuple[Sink, ...], origin: str) -> tuple[Sink, ...]:
    """A device profile's ``sinks`` (e.g. ``["metrics=9464"]``: what every bundle for that board runs), each
    checked like a bundle's, then ``given``; a sink option given explicitly wins over the profile's."""
    listed = extra.get("sinks", [])
    if not isinstance(listed, list) or len(listed) > 32 or not all(isinstance(v, str) for v in listed):
        raise BadInput(f"{origin}: sinks must be a list of at most 32 KIND[=VALUE] strings")
    try:
        defaults = tuple(Sink.parse(v) for v in listed)
    except BadInput as exc:
        raise BadInput(f"{origin}: {exc}") from None
    named = {sink.kind for sink in given}
    return (*(s for s in defaults if s.kind not in named), *given)


def is_plain_name(name: str) -> bool:
    """A single path component: no separators, no ``..``, nothing hidden."""
    return bool(name) and len(name) <= 255 and "/" not in name and "\\" not in name and name not in (".", "..") \
        and not name.startswith(".") and control_char(name) is None


@dataclass(frozen=True)
class ServiceSettings:
    """The ``[service]`` section of a device profile: how the service runs on that board."""

    supplementary_groups: tuple[str, ...] = ()
    restart_sec: int = 5
    labels_max_mb: int = 64
    nice: int = 0

    @classmethod
    def from_profile_extra(cls, extra: dict[str, Any], origin: str) -> ServiceSettings:
        data = extra.get("service", {})
        if not isinstance(data, dict):
            raise BadInput(f"{origin}: [service] must be a table")
        return cls.from_dict(data, f"{origin} [service]")

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str) -> ServiceSettings:
        if not isinstance(data, dict):
            raise BadInput(f"{origin}: must be a table")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadInput(f"{origin}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        groups = data.get("supplementary_groups", ())
        if not isinstance(groups, list | tuple) or len(groups) > 16 or \
                not all(isinstance(g, str) and re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", g) for g in groups):
            raise BadInput(f"{origin}: supplementary_groups must be a list of group names")
        try:
            ints = [data.get(k, d) for k, d in (("restart_sec", 5), ("labels_max_mb", 64), ("nice", 0))]
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in ints):
                raise ValueError("restart_sec, labels_max_mb and nice must be integers")
            s = cls(supplementary_groups=tuple(groups), restart_sec=ints[0], labels_max_mb=ints[1], nice=ints[2])
        except (TypeError, ValueError) as exc:
            raise BadInput(f"{origin}: {exc}") from None
        if not 1 <= s.restart_sec <= 3600 or not 1 <= s.labels_max_mb <= 1 << 20 or not -20 <= s.nice <= 19:
            raise BadInput(f"{origin}: restart_sec 1..3600, labels_max_mb 1..1048576, nice -20..19")
        return s

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["supplementary_groups"] = list(self.supplementary_groups)
        return d
