"""Image dimensions read from the file header, before anything is decoded.

A 1 MB PNG can declare 20000x20000 pixels (1.2 GB as RGB). The formats edgevision reads state
their size in the first bytes; checking it first keeps decoding within the pixel limit. For a
format not parsed here, OpenCV's own ``CV_IO_MAX_IMAGE_PIXELS`` is the backstop.
"""

from __future__ import annotations

import struct

from edgevision.errors import BadInput
from edgevision.limits import hint, limits

_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def image_size(data: bytes | memoryview) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG, GIF, BMP, WebP or PNM header; None when not recognised."""
    b = bytes(data[:64 * 1024]) if not isinstance(data, bytes) else data
    try:
        if b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR":
            return struct.unpack(">II", b[16:24])
        if b[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", b[6:10])
        if b[:2] == b"BM":
            w, h = struct.unpack("<ii", b[18:26])
            return abs(w), abs(h)
        if b[:4] == b"RIFF" and b[8:12] == b"WEBP":
            return _webp(b)
        if b[:2] == b"\xff\xd8":
            return _jpeg(b)
        if b[:1] == b"P" and b[1:2] in b"123456":
            fields = b[2:256].split()
            numbers = [f for f in fields if not f.startswith(b"#")][:2]
            return int(numbers[0]), int(numbers[1])
    except (struct.error, ValueError, IndexError):
        return None
    return None


def _webp(b: bytes) -> tuple[int, int] | None:
    kind = b[12:16]
    if kind == b"VP8X":
        return 1 + int.from_bytes(b[24:27], "little"), 1 + int.from_bytes(b[27:30], "little")
    if kind == b"VP8 ":
        w, h = struct.unpack("<HH", b[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if kind == b"VP8L":
        bits = int.from_bytes(b[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _jpeg(b: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(b):
        if b[i] != 0xFF:
            return None
        marker = b[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", b[i + 2:i + 4])[0]
        if marker in _JPEG_SOF:
            h, w = struct.unpack(">HH", b[i + 5:i + 9])
            return w, h
        i += 2 + length
    return None


def check_pixels(data: bytes | memoryview, origin: str) -> None:
    """Refuse an image whose header declares more pixels than the limit allows."""
    size = image_size(data)
    cap = limits().image_pixels
    if size is not None and size[0] * size[1] > cap:
        raise BadInput(f"{origin}: image is {size[0]}x{size[1]} pixels, over the {cap:,}-pixel limit "
                       f"({hint('image_pixels')})")
