"""Device profiles (``device/profiles/*.toml``): what a board is and how edgevision runs on it.

Benchmarks use them to label and compare results; deploy uses them to configure the
runtime on the device. Plain data: no TensorFlow, no hardware access here.
"""

from __future__ import annotations

import tomllib
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


def load_profile(name_or_path: str | Path) -> Profile:
    found, _ = find_asset(name_or_path, ("device", "profiles"), (".toml",))
    if found is not None:
        try:
            data = tomllib.loads(found.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BadInput(f"{found}: invalid TOML ({exc})") from None
        known = {f.name for f in fields(Profile)} - {"extra"}
        base = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known}
        base.setdefault("name", found.stem)
        try:
            return Profile(**base, extra=extra)
        except TypeError as exc:
            raise BadInput(f"{found}: {exc}") from None
    raise BadInput(f"device profile {str(name_or_path)!r} not found; known: {', '.join(list_profiles()) or 'none'}")


def list_profiles() -> list[str]:
    names: set[str] = set()
    for d in profile_dirs():
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.toml"))
    return sorted(names)
