"""``edgevision device samples pull [user@]host``: bring the device's kept frames to the desktop, ready to label.

Over the same SSH as deploy (host keys checked, keys only), the device writes its samples as a tar stream
(``edgevision device samples export``) after a frame line naming a fresh nonce (what its login shell prints
before is skipped). The device is not trusted: the stream is capped in bytes and in silence, read one
header at a time (at most ``samples`` entries, the index first and decoded against its schema), every
member checked (a plain name the index lists, a regular file, within the cap) and streamed to its place,
never held in memory, and laid out as a labelling folder::

    OUT/<predicted label>/<time>-<frame>.jpg   one folder per label the model gave
    OUT/scores.csv                            file, predicted label and score, runner-up, why it was kept,
                                              drift state, time, frame, source

Correct a label by moving the file into the right folder, delete what is not worth learning, then fold
the folder into the next run: ``edgevision train DATA --add OUT``. Pulling again adds to the same folder.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO

from edgevision.console import answer_frame
from edgevision.deploy.ssh import Ssh, frame, new_nonce
from edgevision.errors import CheckFailed
from edgevision.limits import Limits, hint, limits
from edgevision.sinks.sample_store import FILE_NAME, INDEX, parse_index

CSV_NAME = "scores.csv"
CSV_FIELDS = ("file", "predicted", "score", "second", "second_score", "reason", "drift", "time", "frame", "source")
UNLABELLED = "_unlabelled"
FOLDER_BYTES = 128       # a class folder's name, in UTF-8 bytes (a file system allows 255)
GREETING_BYTES = 64 * 1024  # what a login shell may print before the frame line
_CHUNK = 1 << 20


def folder_name(label: str) -> str:
    """A class folder for a label the device reported: printable, no path separators, not hidden, short."""
    clean = "".join(c for c in label if c.isprintable() and c not in "/\\\x00").strip().lstrip(".")
    clean = re.sub(r"\s+", " ", clean)[:64]
    clean = clean.encode("utf-8", "ignore")[:FOLDER_BYTES].decode("utf-8", "ignore").strip()
    return clean or UNLABELLED


def remote_argv(root: str, remote_python: str | None, *args: str) -> list[str]:
    """``edgevision ARGS --root ROOT`` run with the device's interpreter: the given one, else ROOT/venv's,
    else python3 (the same choice deploy makes), through ``sh -c`` with everything as arguments."""
    if remote_python:
        return [remote_python, "-m", "edgevision", *args, "--root", root]
    script = ('r=$1; shift; case $r in "~/"*) r="$HOME/${r#"~/"}";; esac; p="$r/venv/bin/python"; '
              '[ -x "$p" ] || p=python3; exec "$p" -m edgevision "$@"')
    return ["sh", "-c", script, "sh", root, *args, "--root", root]


def pull(ssh: Ssh, root: str, out: Path, remote_python: str | None = None, clear: bool = False) -> dict[str, Any]:
    """Fetch, check and lay out the device's samples under ``out``; with ``clear``, delete on the device the
    ones that arrived (by their time: newer ones taken meanwhile stay)."""
    lim = limits()
    origin = str(ssh.target)
    nonce = new_nonce()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as raw:
        ssh.fetch(frame(remote_argv(root, remote_python, "device", "samples", "export"), nonce), raw,
                  lim.bundle_bytes, what="edgevision device samples export")
        raw.seek(0)
        _skip_greeting(raw, nonce, origin)
        entries, written, skipped = _unpack(raw, out, origin, lim)
    new_rows = [_row(path, entry) for path, entry in written]
    _append_csv(out / CSV_NAME, new_rows)
    counts: dict[str, int] = {}
    for path, _ in written:
        label = path.split("/", 1)[0]
        counts[label] = counts.get(label, 0) + 1
    report: dict[str, Any] = {"host": origin, "folder": str(out), "pulled": len(new_rows),
                              "on_device": len(entries), "labels": dict(sorted(counts.items()))}
    if skipped:
        report["skipped"] = skipped
    if clear and entries:
        newest = max(float(e["t"]) for e in entries)
        ssh.run(remote_argv(root, remote_python, "device", "samples", "clear", "--upto", repr(newest)))
        report["cleared_upto"] = newest
    return report


def _skip_greeting(raw: BinaryIO, nonce: str, origin: str) -> None:
    """Leave ``raw`` just after the frame line (what came before it is the login shell's); a stream without
    one (an edgevision on the device that predates framing) is read from its start."""
    head = raw.read(GREETING_BYTES)
    begin = answer_frame(nonce)[0].encode("ascii") + b"\n"
    at = head.find(begin)
    if at >= 0:
        raw.seek(at + len(begin))
        return
    raw.seek(0)
    if not head.startswith(INDEX.encode()):  # an unframed stream starts with its index's tar header
        raise CheckFailed(f"{origin}: the device's answer holds no samples stream (it begins {head[:80]!r}); is "
                          "edgevision there older than this one? upgrade it (deploy --install)")


def _unpack(raw: BinaryIO, out: Path, origin: str,
            lim: Limits) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]], int]:
    """Read the stream one header at a time: the index first, then each file it names, streamed to
    ``OUT/<label>/<file>`` (a file already there is kept). What this pull wrote is removed if the stream
    then turns out bad. Returns the entries of the files sent, (relative path, entry) of each file written,
    and how many files were skipped (no readable index entry, or sent twice)."""
    import tarfile

    from edgevision.releases.archive import tar_entries

    entries: dict[str, dict[str, Any]] | None = None
    seen: set[str] = set()
    skipped = 0
    written: list[tuple[str, dict[str, Any]]] = []
    try:
        for member, read in tar_entries(raw, f"{origin}: the samples stream", lim, lim.samples + 1,
                                        "a samples stream"):
            name = member.name
            if not member.isreg():
                raise CheckFailed(f"{origin}: the samples stream holds {name[:60]!r}, not a plain file")
            if entries is None:
                if name != INDEX:
                    raise CheckFailed(f"{origin}: the samples stream does not begin with its index "
                                      f"(it begins with {name[:60]!r})")
                if member.size > lim.document_bytes:
                    raise CheckFailed(f"{origin}: the samples index is {member.size:,} bytes; at most "
                                      f"{lim.document_bytes:,} ({hint('document_bytes')})")
                entries = {e["file"]: e for e in parse_index(read(member.size).split(b"\n"))}
                continue
            if not FILE_NAME.match(name):
                raise CheckFailed(f"{origin}: the samples stream holds an unexpected name {name[:60]!r}")
            if name not in entries or name in seen:
                skipped += 1  # no entry of the index that could be read, or sent twice (the first stays)
                continue
            seen.add(name)
            if member.size > lim.image_bytes:
                raise CheckFailed(f"{origin}: {name} is {member.size:,} bytes; at most {lim.image_bytes:,} "
                                  f"({hint('image_bytes')})")
            label = folder_name(str(entries[name].get("label") or ""))
            if _store(out / label, name, member.size, read):
                written.append((f"{label}/{name}", entries[name]))
    except (tarfile.TarError, EOFError, ValueError) as exc:
        _remove(out, written)
        raise CheckFailed(f"{origin}: the samples stream is not a readable tar ({exc})") from None
    except BaseException:
        _remove(out, written)
        raise
    if entries is None:
        raise CheckFailed(f"{origin}: the samples stream is empty (no index)")
    return [entries[n] for n in seen], written, skipped


def _store(folder: Path, name: str, size: int, read: Any) -> bool:
    """Stream ``size`` bytes into ``folder/name`` (a new file, never through a link); False if it exists."""
    folder.mkdir(exist_ok=True)
    target = folder / name
    if os.path.lexists(target):
        return False
    tmp = folder / f".{name}.{os.getpid()}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            left = size
            while left:
                chunk = read(min(left, _CHUNK))
                fh.write(chunk)
                left -= len(chunk)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def _remove(out: Path, written: list[tuple[str, dict[str, Any]]]) -> None:
    for path, _ in written:
        (out / path).unlink(missing_ok=True)


def _row(path: str, entry: dict[str, Any]) -> dict[str, Any]:
    top = entry.get("top_k") or []
    second = top[1] if len(top) > 1 else {}
    return {"file": path, "predicted": path.split("/", 1)[0], "score": entry.get("score", ""),
            "second": second.get("label", ""), "second_score": second.get("score", ""),
            "reason": str(entry.get("reason", ""))[:32], "drift": str(entry.get("drift", ""))[:16],
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(entry["t"]))),
            "frame": entry.get("frame", ""), "source": str(entry.get("source", ""))[:512]}


def _append_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    new = not path.is_file()
    with open(path, "a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        if new:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: _inert(v) for k, v in row.items()})


def _inert(value: Any) -> Any:
    """Text from the device never starts a spreadsheet formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
