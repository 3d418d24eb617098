"""The schema of the drift monitor's state file (``ROOT/drift.json``), which ``device status`` reads back
through :mod:`edgevision.documents`: a torn or mistyped file is refused field by field, never half-used.
Imported only when the file is read (msgspec)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Name = Annotated[str, msgspec.Meta(max_length=64)]
Time = Annotated[float, msgspec.Meta(ge=0, le=1e11)]


class DriftStateDoc(msgspec.Struct):
    """What :meth:`DriftMonitor._save` writes (keys a newer edgevision adds are ignored)."""

    event: Literal["drift"]
    state: Literal["ok", "drifting"]
    moved: Annotated[list[Name], msgspec.Meta(max_length=16)] = []
    psi: Annotated[dict[Name, Annotated[float, msgspec.Meta(ge=-1e12, le=1e12)] | None],
                   msgspec.Meta(max_length=16)] = {}
    window: Annotated[int, msgspec.Meta(ge=0, le=2**31)] = 0
    threshold: Annotated[float, msgspec.Meta(ge=0, le=1e6)] = 0.0
    since: Time | None = None
    updated: Time | None = None
    profile: Name = ""
    profile_origin: Annotated[str, msgspec.Meta(max_length=1024)] = ""
