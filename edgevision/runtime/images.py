"""Decode image files into RGB uint8 arrays, the one way the whole project does it.

OpenCV applies the EXIF orientation (phone photos come out upright) and converts
grayscale, CMYK and alpha images to three channels, identically on desktop and device.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgevision.errors import BadInput

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"})


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def decode_image(data: bytes | np.ndarray, origin: str = "image", order: str = "RGB") -> np.ndarray:
    """Decode encoded bytes to an HxWx3 uint8 array (RGB, or OpenCV's own BGR with ``order="BGR"``,
    which saves a full-size conversion when the preprocessing swaps later); BadInput if it is not an image."""
    from edgevision.limits import limits
    from edgevision.runtime.image_header import check_pixels

    # OpenCV's own cap, for formats whose header check_pixels does not parse; OpenCV reads it once,
    # at its first decode, so it is set before that (an explicit value from the user wins).
    os.environ.setdefault("CV_IO_MAX_IMAGE_PIXELS", str(limits().image_pixels))
    import cv2

    buf = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes | bytearray) else data
    check_pixels(buf.data if isinstance(buf, np.ndarray) else buf, origin)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if bgr is None or bgr.size == 0:
        raise BadInput(f"{origin}: corrupt or unsupported image file")
    return bgr if order == "BGR" else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_image(path: str | Path, order: str = "RGB") -> np.ndarray:
    from edgevision.limits import hint, limits
    from edgevision.plainfile import read_regular

    p = Path(path)
    try:  # a regular file only (a FIFO would block the read), of a bounded size
        raw = read_regular(p, "image", limits().image_bytes, hint("image_bytes"))
    except OSError as exc:
        raise BadInput(f"{p}: cannot read image ({exc.strerror or exc.__class__.__name__})") from None
    return decode_image(raw, str(p), order)
