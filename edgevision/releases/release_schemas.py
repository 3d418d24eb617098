"""The schemas of the documents a device reads back: a bundle's manifest and runtime.json, the service's
manager, served-release and supervisor state files, the history log (decoded by ``edgevision.documents``).

Only what is declared here is accepted: types, lengths, integer ranges; ``forbid_unknown_fields`` where a
document edgevision writes has a fixed set of keys. Imported only when a document is read (msgspec).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Short = Annotated[str, msgspec.Meta(max_length=128)]
Text = Annotated[str, msgspec.Meta(max_length=1024)]
Count = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31)]
Seconds = Annotated[float, msgspec.Meta(ge=0, le=1e12)]


class FileEntry(msgspec.Struct, forbid_unknown_fields=True):
    sha256: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
    size: Annotated[int, msgspec.Meta(ge=0, le=2**53)]


class RuntimeDoc(msgspec.Struct, forbid_unknown_fields=True):
    """runtime.json (and the manifest's ``runtime``): the values RuntimeConfig then checks one by one."""

    model: Name
    source: Text
    delegate: Short = "cpu"
    threads: Count = 0
    top_k: Count = 3
    threshold: float | None = None
    smooth: Count = 1
    loop: bool = False
    labels: Name | None = None
    sinks: Annotated[list[Annotated[str, msgspec.Meta(max_length=2048)]], msgspec.Meta(max_length=32)] = []


class ManifestDoc(msgspec.Struct):
    """manifest.json: keys a newer edgevision adds are ignored (its ``format`` says what it needs)."""

    format: Short
    id: Annotated[str, msgspec.Meta(max_length=64)]
    created: Short
    edgevision: Short
    profile: Annotated[dict[Short, Any], msgspec.Meta(max_length=256)]
    model: Annotated[dict[Short, Any], msgspec.Meta(max_length=256)]
    runtime: dict[str, Any]
    files: Annotated[dict[Name, FileEntry], msgspec.Meta(max_length=64)]


class ManagerDoc(msgspec.Struct):
    """service/manager.json: which manager runs the service, and for whom. An older file's ``python`` key is
    read past and never used: the interpreter is never taken from a writable file."""

    manager: Literal["systemd", "supervisor"]
    scope: Literal["system", "user"]


class ServedDoc(msgspec.Struct, forbid_unknown_fields=True):
    """service/release.json: the release the service runs."""

    release: Name
    id: Annotated[str, msgspec.Meta(max_length=64)]


class ExitDoc(msgspec.Struct):
    code: Count
    t: Seconds


class StateDoc(msgspec.Struct):
    """service/state.json, the supervisor's own record."""

    state: Short = "stopped"
    main_pid: Annotated[int, msgspec.Meta(ge=1, le=2**22)] | None = None
    starts: Annotated[int, msgspec.Meta(ge=0, le=2**31)] = 0
    exits: Annotated[list[ExitDoc], msgspec.Meta(max_length=64)] = []
    supervisor_pid: Annotated[int, msgspec.Meta(ge=1, le=2**22)] | None = None
    unit: Text = ""
    started_at: Seconds = 0.0


class HistoryDoc(msgspec.Struct):
    """One line of history.jsonl."""

    t: Seconds
    event: Short
    release: Name | None = None
    previous: Name | None = None
    id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    reason: Annotated[str, msgspec.Meta(max_length=4096)] | None = None
