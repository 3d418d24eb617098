"""``edgevision device samples pull [user@]host``: bring the device's kept frames to the desktop, ready to label.

Over the same SSH as deploy (host keys checked, keys only), the device writes its samples as a tar stream
(``edgevision device samples export``); here it is read with its size capped, every member checked (a
plain name the index lists, a regular file, within the cap) and laid out as a labelling folder::

    OUT/<predicted label>/<time>-<frame>.jpg   one folder per label the model gave
    OUT/scores.csv                            file, predicted label and score, runner-up, why it was kept,
                                              drift state, time, frame, source

Correct a label by moving the file into the right folder, delete what is not worth learning, then fold
the folder into the next run: ``edgevision train DATA --add OUT``. Pulling again adds to the same folder.
"""

from __future__ import annotations

import csv
import json
import re
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from edgevision.deploy.ssh import Ssh
from edgevision.errors import CheckFailed
from edgevision.limits import limits
from edgevision.sinks.sample_store import FILE_NAME, INDEX, valid_entry

CSV_NAME = "scores.csv"
CSV_FIELDS = ("file", "predicted", "score", "second", "second_score", "reason", "drift", "time", "frame", "source")
UNLABELLED = "_unlabelled"
MAX_ENTRIES = 1_000_000


def folder_name(label: str) -> str:
    """A class folder for a label the device reported: printable, no path separators, not hidden, short."""
    clean = "".join(c for c in label if c.isprintable() and c not in "/\\\x00").strip().lstrip(".")
    clean = re.sub(r"\s+", " ", clean)[:64]
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
    cap = limits().bundle_bytes
    with tempfile.TemporaryFile() as raw:
        ssh.fetch(remote_argv(root, remote_python, "device", "samples", "export"), raw, cap)
        raw.seek(0)
        files, index = _read_tar(raw, cap, str(ssh.target))
    entries = _entries(index, files, str(ssh.target))
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    new_rows = []
    for entry in entries:
        label = folder_name(str(entry.get("label") or ""))
        target = out / label / entry["file"]
        if target.exists():
            continue
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(files[entry["file"]])
        counts[label] = counts.get(label, 0) + 1
        new_rows.append(_row(f"{label}/{entry['file']}", label, entry))
    _append_csv(out / CSV_NAME, new_rows)
    report: dict[str, Any] = {"host": str(ssh.target), "folder": str(out), "pulled": len(new_rows),
                              "on_device": len(entries), "labels": dict(sorted(counts.items()))}
    if clear and entries:
        newest = max(float(e["t"]) for e in entries)
        ssh.run(remote_argv(root, remote_python, "device", "samples", "clear", "--upto", repr(newest)))
        report["cleared_upto"] = newest
    return report


def _read_tar(raw: Any, cap: int, origin: str) -> tuple[dict[str, bytes], bytes]:
    files: dict[str, bytes] = {}
    index = b""
    total = 0
    try:
        with tarfile.open(fileobj=raw, mode="r|") as tar:
            for member in tar:
                if not member.isfile() or member.size < 0:
                    raise CheckFailed(f"{origin}: the samples stream holds {member.name[:60]!r}, not a plain file")
                name = member.name
                if name != INDEX and not FILE_NAME.match(name):
                    raise CheckFailed(f"{origin}: the samples stream holds an unexpected name {name[:60]!r}")
                total += member.size
                if total > cap:
                    raise CheckFailed(f"{origin}: the samples stream is larger than {cap >> 20} MB")
                fh = tar.extractfile(member)
                data = fh.read(member.size + 1) if fh is not None else b""
                if len(data) != member.size:
                    raise CheckFailed(f"{origin}: {name} is cut short in the samples stream")
                if name == INDEX:
                    index = data
                else:
                    files[name] = data
    except (tarfile.TarError, EOFError) as exc:
        raise CheckFailed(f"{origin}: the samples stream is not a readable tar ({exc})") from None
    return files, index


def _entries(index: bytes, files: dict[str, bytes], origin: str) -> list[dict[str, Any]]:
    out = []
    for line in index.splitlines()[:MAX_ENTRIES]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and valid_entry(entry) and entry["file"] in files:
            out.append(entry)
    if files and not out:
        raise CheckFailed(f"{origin}: the samples index names none of the files sent")
    return out


def _row(path: str, label: str, entry: dict[str, Any]) -> dict[str, Any]:
    top = entry.get("top_k") if isinstance(entry.get("top_k"), list) else []
    second = top[1] if len(top) > 1 and isinstance(top[1], dict) else {}
    return {"file": path, "predicted": label, "score": entry.get("score", ""), "second": second.get("label", ""),
            "second_score": second.get("score", ""), "reason": str(entry.get("reason", ""))[:32],
            "drift": str(entry.get("drift", ""))[:16],
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
