"""Device profiles (``device/profiles/*.toml``): what a board is and how edgevision runs on it.

Benchmarks use them to label and compare results; deploy uses them to configure the
runtime on the device. Plain data: no TensorFlow, no hardware access here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from edgevision.assets import asset_dirs, find_asset
from edgevision.errors import BadInput


@dataclass(frozen=True)
class Profile:
    name: str
    description: str = ""
    board: str = ""
    arch: str = ""
    cores: int = 0
    delegate: str = "cpu"
    threads: int = 0
    source: str = "0"
    requires_edgetpu_model: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # sections other tools add (references, service, ...)

    @property
    def uses_edgetpu(self) -> bool:
        return self.delegate.startswith("edgetpu")


def profile_dirs() -> list[Path]:
    """Where profiles are looked up by name: ./device/profiles, then the project's own."""
    return asset_dirs("device", "profiles")


@functools.cache
def _schema() -> type:
    """The typed fields of a profile file (sections beyond them are the tools' own: ``extra``)."""
    from typing import Annotated

    import msgspec

    short = Annotated[str, msgspec.Meta(max_length=128)]
    count = Annotated[int, msgspec.Meta(ge=0, le=4096)]

    return msgspec.defstruct("ProfileDoc", [
        ("name", short), ("description", Annotated[str, msgspec.Meta(max_length=4096)], ""), ("board", short, ""),
        ("arch", short, ""), ("cores", count, 0), ("delegate", short, "cpu"), ("threads", count, 0),
        ("source", Annotated[str, msgspec.Meta(max_length=1024)], "0"), ("requires_edgetpu_model", bool, False),
    ], forbid_unknown_fields=True)


def load_profile(name_or_path: str | Path) -> Profile:
    """A profile by name or path, read by the one document reader (bounded, typed, one error line)."""
    import msgspec

    from edgevision.documents import convert, read_toml

    found, _ = find_asset(name_or_path, ("device", "profiles"), (".toml",))
    if found is not None:
        data = read_toml(found, dict[str, Any], "device profile")
        known = {f.name for f in fields(Profile)} - {"extra"}
        base = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known}
        base.setdefault("name", found.stem)
        doc = convert(base, _schema(), str(found))
        return Profile(**msgspec.structs.asdict(doc), extra=extra)
    raise BadInput(f"device profile {str(name_or_path)!r} not found; known: {', '.join(list_profiles()) or 'none'}")


def list_profiles() -> list[str]:
    names: set[str] = set()
    for d in profile_dirs():
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.toml"))
    return sorted(names)
