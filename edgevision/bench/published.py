"""Published figures ("measured vs published"): ``[[reference]]`` tables in the device profiles.

A reference names the model files it is about, their input size, the delegate family and
the board (the profile's ``board``, or its own ``board``/``cpu`` matchers), the published
latency and the URL it comes from. A result matches when all of those agree, so a
figure for Coral's ``mobilenet_v2_1.0_224_quant_edgetpu.tflite`` on a Dev Board is never
compared with a retrained MobileNet on a laptop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from edgevision.errors import BadInput
from edgevision.profiles import Profile, list_profiles, load_profile


@dataclass(frozen=True)
class Reference:
    profile: str
    model: str
    files: tuple[str, ...]
    latency_ms: float
    source: str
    delegate: str = "cpu"
    input: tuple[int, int] | None = None
    board: str = ""
    cpu: str = ""
    note: str = ""

    def matches(self, doc: dict[str, Any]) -> bool:
        model, device, config = doc["model"], doc["device"], doc["config"]
        name = PurePath(str(model.get("file") or model.get("path") or "")).name.lower()
        if name not in {f.lower() for f in self.files}:
            return False
        shape = model.get("input_shape") or []
        if self.input is not None and (len(shape) < 3 or (shape[1], shape[2]) != self.input):
            return False
        if not _delegate_matches(self.delegate, str(config.get("delegate", "cpu")), doc):
            return False
        if self.board and self.board.lower() not in str(device.get("board", "")).lower():
            return False
        return not self.cpu or self.cpu.lower() in str(device.get("cpu", "")).lower()


def _delegate_matches(wanted: str, used: str, doc: dict[str, Any]) -> bool:
    if wanted == "cpu":
        return used == "cpu"
    if not used.startswith("edgetpu"):
        return False
    if wanted in ("edgetpu", used):
        return True
    bus = ((doc.get("conditions") or {}).get("edgetpu") or {}).get("bus")
    return wanted == f"edgetpu:{bus}"


def _parse(profile: Profile, entry: Any, i: int) -> Reference:
    where = f"device profile {profile.name!r}, reference #{i + 1}"
    if not isinstance(entry, dict):
        raise BadInput(f"{where}: expected a [[reference]] table")
    try:
        files = entry["files"]
        latency, source = float(entry["latency_ms"]), str(entry["source"])
        size = entry.get("input")
        return Reference(profile=profile.name, model=str(entry.get("model") or files[0]),
                         files=tuple(str(f) for f in files), latency_ms=latency, source=source,
                         delegate=str(entry.get("delegate", "cpu")),
                         input=(int(size[0]), int(size[1])) if size else None,
                         board=str(entry.get("board", profile.board)), cpu=str(entry.get("cpu", "")),
                         note=str(entry.get("note", "")))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise BadInput(f"{where}: needs files, latency_ms and source ({exc.__class__.__name__}: {exc})") from None


def load_references(profiles: list[str] | None = None) -> list[Reference]:
    """Every reference of the named (default: all known) profiles."""
    out: list[Reference] = []
    for name in profiles if profiles is not None else list_profiles():
        profile = load_profile(name)
        entries = profile.extra.get("reference", [])
        if not isinstance(entries, list):
            raise BadInput(f"device profile {profile.name!r}: 'reference' must be an array of tables ([[reference]])")
        out += [_parse(profile, e, i) for i, e in enumerate(entries)]
    return out


def match(doc: dict[str, Any], references: list[Reference]) -> Reference | None:
    """The first reference that describes this result's model, board and delegate."""
    return next((r for r in references if r.matches(doc)), None)


def matching_profile(device: dict[str, Any], delegate: str) -> str | None:
    """The device profile this machine is (by board, or by Edge TPU / architecture), for labelling results."""
    board = str(device.get("board", "")).lower()
    profiles = [load_profile(n) for n in list_profiles()]
    for p in profiles:
        if p.board and p.board.lower() in board:
            return p.name
    bus = [*delegate.split(":"), ""][1]
    for p in profiles:
        if not p.board and p.uses_edgetpu and delegate.startswith("edgetpu") and bus in ("", p.delegate[8:]):
            return p.name
    for p in profiles:
        if not p.board and not p.uses_edgetpu and p.arch == device.get("arch"):
            return p.name
    return None
