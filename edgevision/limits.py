"""Resource limits for untrusted input, with defaults that fit a 1 GB board: every one of them, in one table.

A small file can claim a huge size: a zip that inflates to gigabytes, a PNG header that says
20000x20000, an archive whose manifest lists a 2 GB file, a label line ``50000000 b``, a tar of a
million empty headers, a FlatBuffer vector of 4 billion tensors, an MJPEG part that never ends, an
MQTT packet announcing 256 MB. Every reader checks the claimed size against these limits *before*
allocating, and caps the bytes it actually reads. ``LIMITS`` declares each limit once (its default,
what it bounds, and the environment variable that raises it, where one may); ``docs/errors.md``
carries the same table (``markdown_table()``; a test keeps them equal). Read at call time, so a test
or a service sets them per process; no global state.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

import os
from typing import NamedTuple

from edgevision.errors import BadInput

MB = 1024 * 1024
KB = 1024


class Limit(NamedTuple):
    """One row of the table: the field of :class:`Limits`, its default, what it bounds, how to raise it."""

    field: str
    default: int
    what: str
    env: str | None = None   # None: fixed (a format's own bound, not a size a real input needs to raise)
    unit: int = 1            # MB for byte sizes given in MB, 1 for counts
    seconds: bool = False    # a time limit: the value is in seconds


LIMITS: tuple[Limit, ...] = (
    Limit("model_bytes", 256 * MB, "one model file", "EDGEVISION_MAX_MODEL_MB", MB),
    Limit("associated_bytes", 16 * MB, "a model's associated files together, inflated (checked from the zip's "
          "directory before inflating, capped while inflating); one labels file", "EDGEVISION_MAX_ASSOCIATED_MB",
          MB),
    Limit("image_pixels", 40_000_000, "one decoded image, from the file header before decoding (also OpenCV's "
          "`CV_IO_MAX_IMAGE_PIXELS`)", "EDGEVISION_MAX_IMAGE_PIXELS"),
    Limit("image_bytes", 128 * MB, "one image file, read before it is decoded", "EDGEVISION_MAX_IMAGE_MB", MB),
    Limit("bundle_bytes", 512 * MB, "a bundle's files together, as extracted", "EDGEVISION_MAX_BUNDLE_MB", MB),
    Limit("labels", 100_000, "classes in one label list (an `N name` line claims N entries before they exist)",
          "EDGEVISION_MAX_LABELS"),
    Limit("tensors", 50_000, "tensors of one model, all subgraphs together (counted from the FlatBuffer's "
          "vector lengths before any is read)", "EDGEVISION_MAX_TENSORS"),
    Limit("operators", 50_000, "operators of one model, all subgraphs together", "EDGEVISION_MAX_OPERATORS"),
    Limit("subgraphs", 1_024, "subgraphs of one model"),
    Limit("model_buffers", 200_000, "weight buffers and metadata entries of one model"),
    Limit("graph_entries", 1_000_000, "tensor shape dimensions and operator inputs/outputs of one model, all "
          "together (a thousand tensors may share one shape vector of a thousand entries)"),
    Limit("associated_files", 64, "associated files in a model's zip (from the zip's end record, before its "
          "directory is read)"),
    Limit("zip_directory_bytes", 1 * MB, "a zip's central directory (a model's associated files, an AI Camera "
          "`packerOut.zip`)"),
    Limit("packer_bytes", 16 * MB, "an AI Camera `packerOut.zip` (the sensor has 8 MB of memory for the network)"),
    Limit("packer_entries", 64, "entries in an AI Camera `packerOut.zip`"),
    Limit("bundle_files", 64, "files in a bundle, entries in a bundle archive (counted while the archive is read)"),
    Limit("manifest_bytes", 1 * MB, "a bundle's `manifest.json`"),
    Limit("tar_header_bytes", 64 * KB, "one extended (PAX or GNU long-name) header in a bundle archive"),
    Limit("document_bytes", 16 * MB, "one JSON or TOML file read from outside: runtime.json, a profile, a "
          "policy, a state file, a results file", "EDGEVISION_MAX_DOCUMENT_MB", MB),
    Limit("document_depth", 32, "nesting of arrays and objects (tables) in one JSON or TOML document"),
    Limit("log_tail_bytes", 256 * KB, "the end of an append-only log read back (labels, history)"),
    Limit("frame_bytes", 8 * MB, "one part of an HTTP MJPEG stream (from its Content-Length, or counted while "
          "it arrives)", "EDGEVISION_MAX_FRAME_MB", MB),
    Limit("frame_seconds", 10, "one part of an HTTP MJPEG stream, from its first byte to its last",
          "EDGEVISION_MAX_FRAME_SECONDS", seconds=True),
    Limit("http_header_bytes", 64 * KB, "the headers of an HTTP response or of one MJPEG part"),
    Limit("mqtt_packet_bytes", 64 * KB, "one packet an MQTT broker sends (the sink only publishes: a broker "
          "answers with a few bytes)"),
    Limit("profile_bytes", 512 * KB, "a reference profile (a model's `edgevision_profile.json`, a device baseline, "
          "`--drift-profile`)"),
    Limit("samples", 10_000, "frames kept for labelling on a device (`--samples-max`), entries of its samples index "
          "read back, files in one `device samples pull`", "EDGEVISION_MAX_SAMPLES"),
    Limit("answer_bytes", 16 * MB, "what a device prints for one command `deploy` runs there (its answers are a few "
          "KB)"),
    Limit("silence_seconds", 60, "a device whose stream (`device samples pull`) brings less than 64 KB in this "
          "long: silent, or trickling",
          "EDGEVISION_MAX_SILENCE_SECONDS", seconds=True),
)
ROWS = {row.field: row for row in LIMITS}


class Limits(NamedTuple):
    """Sizes past which input is refused with one clear error instead of filling a 1 GB Pi (see ``LIMITS``).
    A named tuple, not a dataclass: it is read on the way to every model's first label, and building a
    25-field dataclass at import costs a cold start about a millisecond."""

    model_bytes: int = 256 * MB
    associated_bytes: int = 16 * MB
    image_pixels: int = 40_000_000
    image_bytes: int = 128 * MB
    bundle_bytes: int = 512 * MB
    labels: int = 100_000
    tensors: int = 50_000
    operators: int = 50_000
    subgraphs: int = 1_024
    model_buffers: int = 200_000
    graph_entries: int = 1_000_000
    associated_files: int = 64
    zip_directory_bytes: int = 1 * MB
    packer_bytes: int = 16 * MB
    packer_entries: int = 64
    bundle_files: int = 64
    manifest_bytes: int = 1 * MB
    tar_header_bytes: int = 64 * KB
    document_bytes: int = 16 * MB
    document_depth: int = 32
    log_tail_bytes: int = 256 * KB
    frame_bytes: int = 8 * MB
    frame_seconds: int = 10
    http_header_bytes: int = 64 * KB
    mqtt_packet_bytes: int = 64 * KB
    profile_bytes: int = 512 * KB
    samples: int = 10_000
    answer_bytes: int = 16 * MB
    silence_seconds: int = 60

    @classmethod
    def from_env(cls) -> "Limits":
        values = {}
        for row in LIMITS:
            raw = os.environ.get(row.env) if row.env else None
            if raw is None or not raw.strip():
                continue
            try:
                number = float(raw)
                if not 0 < number < 1e15:
                    raise ValueError
            except ValueError:
                raise BadInput(f"${row.env}={raw!r}: expected a positive number"
                               f"{' of MB' if row.unit == MB else ''}") from None
            values[row.field] = max(1, int(number * row.unit))
        return cls(**values)  # type: ignore[arg-type]


def hint(field: str) -> str:
    """How to raise one limit, for the error line that names it."""
    row = ROWS[field]
    if row.env is None:
        return "a fixed limit of the format"
    return f"raise it with {row.env}={'MB' if row.unit == MB else 'SECONDS' if row.seconds else 'N'}"


def limits() -> Limits:
    return Limits.from_env()


def _shown(row: Limit) -> str:
    if row.seconds:
        return f"{row.default} s"
    if row.unit == MB or (row.field.endswith("_bytes") and row.default % MB == 0):
        return f"{row.default // MB} MB"
    if row.field.endswith("_bytes") and row.default % KB == 0:
        return f"{row.default // KB} KB"
    if row.field == "image_pixels":
        return f"{row.default // 1_000_000} Mpixel"
    return f"{row.default:,}"


def markdown_table() -> str:
    """The limits table of docs/errors.md, as this module declares it."""
    lines = ["| limit | default | variable |", "|---|---|---|"]
    for row in LIMITS:
        lines.append(f"| {row.what} | {_shown(row)} | {f'`{row.env}`' if row.env else 'fixed'} |")
    return "\n".join(lines) + "\n"

