"""Label lists: reading the formats found in the wild, and a stable hash to catch mismatches."""

from __future__ import annotations

import re
from pathlib import Path

from edgevision.errors import BadInput
from edgevision.limits import hint, limits

_INDEXED = re.compile(r"^\s*(\d{1,12})[\s:]+(.*\S)\s*$")


def parse_labels(text: str, origin: str = "labels") -> tuple[str, ...]:
    """Parse one-label-per-line text, or Coral's ``"<index> <label>"`` lines.

    Coral's files may skip indices (e.g. no background); gaps become ``"<index>"`` so that
    position i always means class i.
    """
    most = limits().labels
    text = text.rstrip()  # a label list ends with its last label, whatever blank lines follow
    if text.count("\n") + text.count("\r") > 2 * most:  # counted before a single line object exists
        raise BadInput(f"{origin}: more lines than the limit of {most:,} labels ({hint('labels')})")
    lines = [ln.rstrip("\r") for ln in text.splitlines()]
    if len(lines) > most:
        raise BadInput(f"{origin}: {len(lines):,} labels, more than the limit of {most:,} ({hint('labels')})")
    if not lines:
        raise BadInput(f"{origin}: the label list is empty")
    matches = [_INDEXED.match(ln) for ln in lines if ln.strip()]
    if all(matches) and len(matches) > 1 and _looks_indexed(matches):
        by_index = {int(m.group(1)): m.group(2) for m in matches if m}
        size = max(by_index) + 1
        if size > most:  # before a list of that size exists: "50000000 b" is 11 bytes
            raise BadInput(f"{origin}: an index of {size - 1:,} claims {size:,} labels, more than the limit of "
                           f"{most:,} ({hint('labels')})")
        return tuple(by_index.get(i, str(i)) for i in range(size))
    labels = tuple(ln.strip() for ln in lines)
    if any(not lbl for lbl in labels):
        raise BadInput(f"{origin}: blank label in the middle of the list (line {labels.index('') + 1})")
    return labels


def _looks_indexed(matches: list[re.Match[str] | None]) -> bool:
    # "1 apple" lines with increasing indices, not labels that happen to start with digits
    indices = [int(m.group(1)) for m in matches if m]
    return indices == sorted(set(indices))


def read_labels(path: str | Path) -> tuple[str, ...]:
    from edgevision.plainfile import read_regular

    p = Path(path)
    try:  # a regular file only (a FIFO would block), of a bounded size
        text = read_regular(p, "labels file", limits().associated_bytes, hint("associated_bytes")).decode("utf-8")
    except (UnicodeDecodeError, PermissionError) as exc:
        raise BadInput(f"{p}: cannot read labels file ({exc.__class__.__name__})") from None
    return parse_labels(text, origin=str(p))


def labels_text(labels: tuple[str, ...] | list[str]) -> str:
    return "".join(f"{label}\n" for label in labels)


def labels_sha256(labels: tuple[str, ...] | list[str]) -> str:
    import hashlib  # here: a model without a model card starts without it

    return hashlib.sha256(labels_text(labels).encode("utf-8")).hexdigest()


def write_labels(path: str | Path, labels: tuple[str, ...] | list[str]) -> Path:
    p = Path(path)
    p.write_text(labels_text(labels), encoding="utf-8")
    return p
