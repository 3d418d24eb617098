"""Resource limits for untrusted input, with defaults that fit a 1 GB board.

A small file can claim a huge size: a zip that inflates to gigabytes, a PNG header that says
20000x20000, an archive whose manifest lists a 2 GB file. Every reader checks the claimed size
against these limits *before* allocating, and caps the bytes it actually reads. Raise a limit
with its environment variable when a model or image really is that large (values in MB except
pixels). Read at call time, so a test or a service sets them per process; no global state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from edgevision.errors import BadInput

MB = 1024 * 1024

ENV = {
    "model_bytes": ("EDGEVISION_MAX_MODEL_MB", 256 * MB, MB),
    "associated_bytes": ("EDGEVISION_MAX_ASSOCIATED_MB", 16 * MB, MB),
    "image_pixels": ("EDGEVISION_MAX_IMAGE_PIXELS", 40_000_000, 1),
    "bundle_bytes": ("EDGEVISION_MAX_BUNDLE_MB", 512 * MB, MB),
    "labels": ("EDGEVISION_MAX_LABELS", 100_000, 1),
}


@dataclass(frozen=True)
class Limits:
    """Sizes past which input is refused with one clear error instead of filling a 1 GB Pi."""

    model_bytes: int = 256 * MB          # one .tflite file
    associated_bytes: int = 16 * MB      # all associated files of a model together, inflated
    image_pixels: int = 40_000_000       # width x height of one decoded image (about 120 MB as RGB)
    bundle_bytes: int = 512 * MB         # all files of a bundle together, as extracted
    labels: int = 100_000                # classes of one label list ("N name" lines claim N before it exists)

    @classmethod
    def from_env(cls) -> Limits:
        values = {}
        for field, (var, default, unit) in ENV.items():
            raw = os.environ.get(var)
            if raw is None or not raw.strip():
                values[field] = default
                continue
            try:
                number = float(raw)
                if not 0 < number < 1e15:
                    raise ValueError
            except ValueError:
                raise BadInput(f"${var}={raw!r}: expected a positive number"
                               f"{' of MB' if unit == MB else ''}") from None
            values[field] = int(number * unit)
        return cls(**values)


def hint(field: str) -> str:
    """How to raise one limit, for the error line that names it."""
    var, _, unit = ENV[field]
    return f"raise it with {var}={'MB' if unit == MB else 'N'}"


def limits() -> Limits:
    return Limits.from_env()
