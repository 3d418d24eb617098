"""Label lists as they are in the wild: reading them, bounding them, and telling repeated names apart.

Published label files come as plain lines, as ``N name`` / ``N: name`` / ``N,name`` lines
(Coral's, with gaps and sometimes a ``background`` entry), as Keras' JSON class index, with a
UTF-8 byte-order mark or Windows line ends. ImageNet's own list names two classes ``crane``
(the bird and the machine) and two ``maillot``: a repeated name is allowed, and everything
that needs one id per class (topics, entities) keys it by index (``label_ids``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from edgevision.errors import BadInput
from edgevision.limits import hint, limits

_INDEXED = re.compile(r"^\s*(\d{1,12})(?:\s*[:,]\s*|\s+)(.*\S)\s*$")  # 12 digits: int() of 5000 refuses
BOM = "\ufeff"
# first entries of published lists that name a class the model does not output
BACKGROUND_NAMES = ("background", "__background__", "???", "unused background", "unlabeled", "unlabelled")


def parse_labels(text: str, origin: str = "labels", expected: int | None = None) -> tuple[str, ...]:
    """Parse one-label-per-line text, ``"<index> <label>"`` lines, or a JSON class index.

    Indexed files may skip indices (e.g. no background); gaps become ``"<index>"`` so that
    position i always means class i. The largest index is checked against ``expected`` (the
    model's class count, plus one for a background entry) or the label limit before anything
    of that size is allocated.
    """
    text = text.removeprefix(BOM).strip()
    if text.startswith(("{", "[")):
        return _json_labels(text, origin, expected)
    most = limits().labels if expected is None else expected + 1
    if text.count("\n") + text.count("\r") > 2 * most:  # counted before a single line object exists: 4 KB of
        _check_count(text.count("\n") + 1, origin, expected)  # deflate inflate to a million lines
    lines = [ln.rstrip("\r") for ln in text.splitlines()]
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise BadInput(f"{origin}: the label list is empty")
    _check_count(len(lines), origin, expected)
    matches = [_INDEXED.match(ln) for ln in lines if ln.strip()]
    if all(matches) and len(matches) > 1 and _looks_indexed(matches):
        by_index = {int(m.group(1)): m.group(2) for m in matches if m}
        return _from_index(by_index, origin, expected)
    labels = tuple(ln.strip() for ln in lines)
    if any(not lbl for lbl in labels):
        raise BadInput(f"{origin}: blank label in the middle of the list (line {labels.index('') + 1})")
    return labels


def _check_count(count: int, origin: str, expected: int | None) -> None:
    """At most the model's outputs (+ 1: a background entry) and never past the limit: a model's output count
    is the model's own claim, and a hostile one claims a billion."""
    cap = limits().labels
    if expected is not None and expected + 1 <= cap:
        if count > expected + 1:
            raise BadInput(f"{origin}: {count} labels is more than the model's {expected} outputs")
    elif count > cap:
        raise BadInput(f"{origin}: {count} labels is more than the limit of {cap} labels; {hint('labels')}")


def _from_index(by_index: dict[int, str], origin: str, expected: int | None) -> tuple[str, ...]:
    size = max(by_index) + 1
    _check_count(size, origin, expected)  # before the list of that size exists
    return tuple(by_index.get(i, str(i)) for i in range(size))


def _json_labels(text: str, origin: str, expected: int | None) -> tuple[str, ...]:
    """``["a", "b"]``, ``{"0": "a"}`` or Keras' ``{"0": ["n01440764", "tench"]}``."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: also a number of thousands of digits
        raise BadInput(f"{origin}: not a valid JSON label list ({exc.__class__.__name__})") from None

    def name(v: object) -> str:
        if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            v = v[-1]  # [synset id, name]
        if not isinstance(v, str) or not v.strip():
            raise BadInput(f"{origin}: each JSON label must be a non-empty string (or [id, name])")
        return v.strip()

    if isinstance(data, list):
        _check_count(len(data), origin, expected)
        if not data:
            raise BadInput(f"{origin}: the label list is empty")
        return tuple(name(v) for v in data)
    if isinstance(data, dict) and data:
        if not all(isinstance(k, str) and k.isdigit() and len(k) <= 12 for k in data):
            raise BadInput(f"{origin}: a JSON label object's keys must be class indices (\"0\", \"1\", ...)")
        _check_count(len(data), origin, expected)
        return _from_index({int(k): name(v) for k, v in data.items()}, origin, expected)
    raise BadInput(f"{origin}: a JSON label file must be a list of names or an object of index -> name")


def _looks_indexed(matches: list[re.Match[str] | None]) -> bool:
    # "1 apple" lines with increasing indices, not labels that happen to start with digits
    indices = [int(m.group(1)) for m in matches if m]
    return indices == sorted(set(indices))


def read_labels(path: str | Path, expected: int | None = None) -> tuple[str, ...]:
    from edgevision.plainfile import read_regular

    p = Path(path)
    try:  # a regular file only (a FIFO would block the read), its size checked on the descriptor
        text = read_regular(p, "labels file", limits().associated_bytes, hint("associated_bytes")).decode("utf-8")
    except (UnicodeDecodeError, PermissionError) as exc:
        raise BadInput(f"{p}: cannot read labels file ({exc.__class__.__name__})") from None
    return parse_labels(text, origin=str(p), expected=expected)


def is_background(label: str) -> bool:
    """A first entry that names no real class (``background``, ``???``): Google's and Coral's lists have one."""
    return label.strip().lower() in BACKGROUND_NAMES


def repeated(labels: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Names that occur more than once, with the indices of each (in order of first appearance)."""
    where: dict[str, list[int]] = {}
    for i, name in enumerate(labels):
        where.setdefault(name, []).append(i)
    return {name: tuple(idx) for name, idx in where.items() if len(idx) > 1}


def label_ids(labels: Sequence[str]) -> tuple[str, ...]:
    """One distinct name per class: the label itself, or ``"label #index"`` when the name repeats."""
    twice = repeated(labels)
    return tuple(f"{name} #{i}" if name in twice else name for i, name in enumerate(labels))


def repeated_warning(labels: Sequence[str], origin: str) -> str | None:
    """The one warning a repeated name deserves (or None): it is allowed, and kept apart by index."""
    twice = repeated(labels)
    if not twice:
        return None
    shown = "; ".join(f"{name!r} at {', '.join(map(str, idx))}" for name, idx in list(twice.items())[:3])
    more = f" and {len(twice) - 3} more" if len(twice) > 3 else ""
    return (f"{origin}: {len(twice)} label name(s) repeat ({shown}{more}); each class is kept apart by its index "
            "(events carry 'index', MQTT topics and Home Assistant ids add '#index')")


def labels_text(labels: tuple[str, ...] | list[str]) -> str:
    return "".join(f"{label}\n" for label in labels)


def labels_sha256(labels: tuple[str, ...] | list[str]) -> str:
    import hashlib  # here: a model without a model card starts without it

    return hashlib.sha256(labels_text(labels).encode("utf-8")).hexdigest()


def write_labels(path: str | Path, labels: tuple[str, ...] | list[str]) -> Path:
    p = Path(path)
    p.write_text(labels_text(labels), encoding="utf-8")
    return p
