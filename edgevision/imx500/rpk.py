"""What ``imx500-package`` wrote into a ``network.rpk``: its ``network_info.txt``, read as data.

An .rpk is a run of firmware blocks (each: a 60-byte header starting ``9464`` and a big-endian
payload size, the payload, a ``3695`` footer) followed by a cpio archive whose
``network_info.txt`` holds ``key=value`` lines: the input tensor's size and format and the
sensor's input normalization (``inputTensorNorm_K*``: a 3x4 colour matrix in 1/1024 steps and
per-channel offsets in 1/16 steps, which picamera2 reads back to rebuild input images). The
layout follows picamera2's ``IMX500`` reader and Sony's loaders; nothing here needs picamera2.

edgevision's IMX500 networks take raw 0..255 pixels (the normalization is the network's first
layer), so the sensor must pass pixels through unchanged: gain 1 (``0x400``) on the diagonal,
no cross terms, no offsets. ``check_identity`` says whether a packaged network does.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgevision.errors import BadInput

BLOCK_MAGIC, FOOTER_MAGIC = b"9464", b"3695"
BLOCK_OVERHEAD = 64          # 60-byte header (magic and size included) + 4-byte footer
MAX_RPK_BYTES = 64 << 20     # the sensor has 8 MB; an .rpk is a few MB at most
MAX_INFO_BYTES = 1 << 20
NORM_ONE = 0x400             # gain 1.0 in the colour matrix
MATRIX_KEYS = {f"inputTensorNorm_K{r}{c}": (NORM_ONE if r == c else 0) for r in range(3) for c in range(3)}
OFFSET_KEYS = {f"inputTensorNorm_K{r}3": 0 for r in range(3)}


@dataclass(frozen=True)
class NetworkInfo:
    """network 0 of an .rpk's network_info.txt (values as written, numbers parsed where they are numbers)."""

    header: dict[str, str]
    network: dict[str, str]

    @property
    def input_size(self) -> tuple[int, int] | None:
        try:
            return int(self.network["inputTensorWidth"]), int(self.network["inputTensorHeight"])
        except (KeyError, ValueError):
            return None

    @property
    def input_format(self) -> str:
        return self.network.get("inputTensorFormat", "")

    def register(self, key: str) -> int | None:
        try:
            return int(self.network[key], 0)
        except (KeyError, ValueError):
            return None


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def sensor_norm(info: NetworkInfo) -> dict[str, list[float]] | None:
    """The per-channel pixel -> input-tensor map the sensor applies: q = gain * p + offset (None if unreadable)."""
    gains, offsets = [], []
    for ch in range(3):
        k, off = info.register(f"inputTensorNorm_K{ch}{ch}"), info.register(f"inputTensorNorm_K{ch}3")
        if k is None or off is None:
            return None
        gains.append(round(_signed(k & 0xFFF, 12) / NORM_ONE, 6))
        offsets.append(round(_signed(off & 0x1FFF, 13) / 16, 4))
    return {"gain": gains, "offset": offsets}


def check_identity(info: NetworkInfo) -> str | None:
    """None when the sensor passes 0..255 RGB pixels through unchanged; otherwise what differs."""
    if info.input_format not in ("RGB", ""):
        return f"inputTensorFormat={info.input_format} (the network was converted for RGB)"
    wrong = []
    for key, want in {**MATRIX_KEYS, **OFFSET_KEYS}.items():
        got = info.register(key)
        if got is None and (want or key in OFFSET_KEYS):  # cross terms may be left out (they default to 0)
            wrong.append(f"{key} missing")
        elif got is not None and got != want:
            wrong.append(f"{key}={got:#06x} (expected {want:#06x})")
    return "; ".join(wrong) or None


def card_mismatch(info: NetworkInfo, card: dict[str, Any]) -> tuple[str, str] | None:
    """(what is wrong, the fix) when a packaged network does not suit the card (imx500.json) edgevision wrote
    beside it; None when it does. The one rule for ``doctor`` and for ``deploy`` (which refuses to switch):
    the input size the card names, and a card that says the network normalizes raw pixels itself (every
    card this edgevision writes) with a sensor that passes them through unchanged. A card that says
    anything else (an older one: the sensor normalizes) cannot work, since imx500-package configures none."""
    pre = card.get("preprocess") or {}
    want = (pre.get("width"), pre.get("height"))
    if info.input_size is not None and None not in want and tuple(info.input_size) != want:
        return (f"the network takes {info.input_size[0]}x{info.input_size[1]} but imx500.json says "
                f"{want[0]}x{want[1]}", "package the packerOut.zip this card belongs to")
    norm = (card.get("target") or {}).get("normalization") or {}
    if norm.get("where") != "network":
        return (f"imx500.json expects the sensor to normalize the input (mean {norm.get('mean')}, std "
                f"{norm.get('std')}), which imx500-package does not configure",
                "convert again with this edgevision (the normalization becomes the network's first layer)")
    wrong = check_identity(info)
    if wrong:
        return (f"the sensor does not pass pixels through unchanged ({wrong}), but the network expects raw "
                "0..255 RGB", "package packerOut.zip again with Raspberry Pi's imx500-package")
    return None


def _cpio_offset(data: bytes, origin: str) -> int:
    off = 0
    while data[off:off + 4] == BLOCK_MAGIC:
        if off + 8 > len(data):
            raise BadInput(f"{origin}: truncated firmware block header")
        (size,) = struct.unpack(">I", data[off + 4:off + 8])
        end = off + size + BLOCK_OVERHEAD
        if end > len(data) or data[end - 4:end] != FOOTER_MAGIC:
            raise BadInput(f"{origin}: firmware block at byte {off} has no {FOOTER_MAGIC.decode()} footer")
        off = end
    if off == 0:
        raise BadInput(f"{origin}: not an IMX500 network (.rpk from imx500-package)")
    return off


def _cpio_members(data: bytes, origin: str) -> dict[str, bytes]:
    """Members of a cpio archive in the newc (070701/070702) or odc (070707) format, sizes bounded."""
    out: dict[str, bytes] = {}
    off = 0
    while off + 6 <= len(data):
        magic = data[off:off + 6]
        if magic in (b"070701", b"070702"):
            try:
                fields = [int(data[off + 6 + 8 * i: off + 14 + 8 * i], 16) for i in range(13)]
            except ValueError:
                raise BadInput(f"{origin}: damaged cpio header at byte {off}") from None
            size, namesize = fields[6], fields[11]
            name_at = off + 110
            data_at = (name_at + namesize + 3) & ~3
            nxt = (data_at + size + 3) & ~3
        elif magic == b"070707":
            try:
                namesize, size = int(data[off + 59:off + 65], 8), int(data[off + 65:off + 76], 8)
            except ValueError:
                raise BadInput(f"{origin}: damaged cpio header at byte {off}") from None
            name_at = off + 76
            data_at = name_at + namesize
            nxt = data_at + size
        else:
            break
        name = data[name_at:name_at + namesize].rstrip(b"\0").decode("utf-8", "replace")
        if name == "TRAILER!!!":
            break
        if data_at + size > len(data):
            raise BadInput(f"{origin}: cpio member {name!r} runs past the end of the file")
        if size <= MAX_INFO_BYTES:
            out[name.removeprefix("./")] = data[data_at:data_at + size]
        off = nxt
    return out


def parse_network_info(text: str) -> NetworkInfo:
    """``key=value`` lines; ``networkOrdinal=N`` starts network N's section (network 0 is returned)."""
    header: dict[str, str] = {}
    networks: dict[int, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep:
            continue
        if key == "networkOrdinal":
            try:
                current = networks.setdefault(int(value), {})
            except ValueError:
                current = None
            continue
        (current if current is not None else header)[key] = value
    return NetworkInfo(header, networks.get(0, {}))


def read_network_info(rpk: str | Path) -> NetworkInfo:
    """network_info.txt of an .rpk (BadInput if the file is not one, or carries none)."""
    path = Path(rpk)
    size = path.stat().st_size
    if size > MAX_RPK_BYTES:
        raise BadInput(f"{path}: {size} bytes is larger than any IMX500 network")
    data = path.read_bytes()
    members = _cpio_members(data[_cpio_offset(data, str(path)):], str(path))
    if "network_info.txt" not in members:
        raise BadInput(f"{path}: carries no network_info.txt (not packaged by imx500-package?)")
    return parse_network_info(members["network_info.txt"].decode("ascii", "replace"))
