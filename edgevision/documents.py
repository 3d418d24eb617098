"""One way to read a JSON or TOML document that came from outside: a declared schema, bounds, one error line.

Manifests, runtime.json, device profiles, quantization policies, the device's state and manager
files, the history and labels logs, results files: each is decoded against a declared schema (a
``msgspec.Struct``, or a plain type such as ``dict[str, Any]``) by msgspec, a small, fast C decoder
that validates while it decodes, needs nothing else, and has no plug-in machinery to configure. Every
document is bounded before and while it is read:

- size: the file is a regular file (``plainfile``) of at most ``document_bytes`` (or a smaller cap);
- depth: nesting past ``document_depth`` is refused (tomllib and msgspec recurse: a document nested a
  few thousand deep is caught as RecursionError here, never anywhere else; a shallower one is measured
  after decoding);
- integers: 64-bit (msgspec refuses more; TOML's 5000-digit integers are refused by tomllib's own
  digit limit), and whatever range the schema's ``msgspec.Meta`` declares;
- types and names: the schema's, with unknown fields refused where the schema says so.

Whatever is wrong becomes one :class:`~edgevision.errors.BadInput` line naming the file and the field
(``runtime.json: $.top_k: Expected `int`, got `str```). Append-only logs are read from their tail and
their torn last line (a power cut mid-write) is skipped and counted, never fatal.

msgspec is imported inside these functions: a command that reads no document never pays for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from edgevision.errors import BadInput
from edgevision.limits import hint, limits
from edgevision.plainfile import open_regular, read_regular

T = TypeVar("T")


def _explain(exc: Exception) -> str:
    """msgspec's ``Expected `int`, got `str` - at `$.a``` as ``$.a: Expected `int`, got `str```."""
    text = str(exc)
    what, sep, where = text.rpartition(" - at `")
    return f"{where.rstrip('`')}: {what}" if sep else text


def depth(value: Any, most: int) -> int:
    """How deeply ``value``'s lists and dicts nest, counted without recursion and given up past ``most``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list | tuple):
            deepest = max(deepest, level)
            if deepest > most:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children if isinstance(child, dict | list | tuple))
    return deepest


def _check_depth(data: Any, origin: str) -> None:
    most = limits().document_depth
    if depth(data, most) > most:
        raise BadInput(f"{origin}: nested more than {most} levels deep; not a document edgevision writes")


def convert(data: Any, schema: type[T], origin: str) -> T:
    """Already decoded ``data`` (from TOML, a database row, a bigger document) checked against ``schema``."""
    import msgspec

    _check_depth(data, origin)
    try:
        return msgspec.convert(data, schema, strict=True)
    except msgspec.ValidationError as exc:
        raise BadInput(f"{origin}: {_explain(exc)}") from None


def decode_json(raw: bytes | str, schema: type[T], origin: str, max_bytes: int | None = None) -> T:
    """One JSON document of at most ``max_bytes`` (default ``document_bytes``), decoded as ``schema``."""
    import msgspec

    cap = max_bytes if max_bytes is not None else limits().document_bytes
    if len(raw) > cap:
        raise BadInput(f"{origin}: {len(raw):,} bytes; at most {cap:,} ({hint('document_bytes')})")
    try:
        data = msgspec.json.decode(raw, type=schema, strict=True)
    except msgspec.ValidationError as exc:
        raise BadInput(f"{origin}: {_explain(exc)}") from None
    except msgspec.DecodeError as exc:
        raise BadInput(f"{origin}: not valid JSON ({str(exc).removeprefix('JSON is malformed: ')})") from None
    except RecursionError:
        raise BadInput(f"{origin}: nested more than {limits().document_depth} levels deep; not a document "
                       "edgevision writes") from None
    _check_depth(data if not isinstance(data, msgspec.Struct) else msgspec.to_builtins(data), origin)
    return data


def read_json(path: str | Path, schema: type[T], what: str, max_bytes: int | None = None) -> T:
    """A JSON file (a regular file, size checked on its descriptor) decoded as ``schema``."""
    cap = max_bytes if max_bytes is not None else limits().document_bytes
    raw = read_regular(path, what, cap, hint("document_bytes"))
    return decode_json(raw, schema, str(path), cap)


def decode_toml(text: str, schema: type[T], origin: str) -> T:
    """One TOML document decoded as ``schema`` (tomllib, then the same checks as JSON)."""
    import tomllib

    if len(text) > limits().document_bytes:
        raise BadInput(f"{origin}: over {limits().document_bytes:,} bytes ({hint('document_bytes')})")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{origin}: not valid TOML ({exc})") from None
    except RecursionError:
        raise BadInput(f"{origin}: nested more than {limits().document_depth} levels deep; not a document "
                       "edgevision reads") from None
    except ValueError as exc:  # an integer of thousands of digits (Python's int conversion limit)
        raise BadInput(f"{origin}: not valid TOML ({str(exc).split(';')[0]})") from None
    return convert(data, schema, origin)


def read_toml(path: str | Path, schema: type[T], what: str) -> T:
    raw = read_regular(path, what, limits().document_bytes, hint("document_bytes"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return decode_toml(text, schema, str(path))


@dataclass
class LogTail:
    """The last records of an append-only log, and what was skipped on the way."""

    records: list[Any] = field(default_factory=list)
    torn: bool = False      # the last line had no newline yet: a write in progress, or one a power cut ended
    unreadable: int = 0     # complete lines that are not a record (a torn line that later writes followed)

    def notes(self, origin: str) -> list[str]:
        out = []
        if self.torn:
            out.append(f"{origin}: its last line is incomplete (a write was cut off); skipped")
        if self.unreadable:
            out.append(f"{origin}: {self.unreadable} unreadable line(s) skipped")
        return out


def read_log_tail(path: str | Path, schema: type[T], max_bytes: int | None = None) -> LogTail:
    """The complete lines in the last ``max_bytes`` (``log_tail_bytes``) of a JSON-lines log, each decoded as
    ``schema``; a line that does not decode is counted, not fatal. A missing log is an empty one."""
    cap = max_bytes if max_bytes is not None else limits().log_tail_bytes
    try:
        fh = open_regular(path, "log")
    except BadInput:
        if not os.path.lexists(path):
            return LogTail()
        raise
    with fh:
        size = os.fstat(fh.fileno()).st_size
        fh.seek(max(0, size - cap))
        data = fh.read(cap)
    tail = LogTail()
    end = data.rfind(b"\n") + 1
    tail.torn = end < len(data)
    lines = data[:end].split(b"\n")
    if size > cap:
        lines = lines[1:]  # the first line may be cut by the window
    for record in _decoded(lines, schema):
        if record is None:
            tail.unreadable += 1
        else:
            tail.records.append(record)
    return tail


def _decoded(lines: list[bytes], schema: type[T]) -> Iterator[T | None]:
    import msgspec

    decoder = msgspec.json.Decoder(schema, strict=True)
    most = limits().document_depth
    for line in lines:
        if not line.strip():
            continue
        try:
            record = decoder.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            yield None
            continue
        builtins = msgspec.to_builtins(record) if isinstance(record, msgspec.Struct) else record
        yield record if depth(builtins, most) <= most else None
