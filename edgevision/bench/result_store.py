"""The local result store (SQLite) and the JSON export files that carry results between machines.

A store file holds every result measured or imported on this machine. Writes happen in
one transaction per batch, and a store this version cannot read (a newer schema, another
program's database, a corrupt file) is refused before anything is written to it, so no
stored result is ever lost to a bad run or a bad import.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgevision.bench.record import FORMAT, SCHEMA, check_schema, now_iso, validate
from edgevision.errors import BadInput

STORE_ENV = "EDGEVISION_BENCH_STORE"
_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    id TEXT PRIMARY KEY, created TEXT NOT NULL, kind TEXT NOT NULL, device_id TEXT, fingerprint TEXT,
    device_name TEXT, model TEXT, model_sha256 TEXT, threads INTEGER, delegate TEXT, xnnpack INTEGER,
    p50_ms REAL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS results_model ON results (model, device_id);
"""


def default_store() -> Path:
    """``$EDGEVISION_BENCH_STORE``, else ``$XDG_DATA_HOME/edgevision/bench.sqlite`` (~/.local/share/...)."""
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "edgevision" / "bench.sqlite"


@dataclass(frozen=True)
class Merge:
    """What an import did: new results, ones already present, same id with different content (kept as stored)."""

    added: int
    present: int
    conflicts: int


class ResultStore:
    """Results in one SQLite file. Open with :meth:`open`; the file is created on first write only."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def open(cls, path: str | Path) -> ResultStore:
        store = cls(Path(path))
        if store.path.exists():
            store._check()
        return store

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def _fail(self, exc: sqlite3.Error) -> BadInput:
        return BadInput(f"{self.path}: result store is unreadable ({exc}); it was left as it is — move it aside or "
                        "choose another with --store")

    def _check(self) -> None:
        """Refuse a file that is not an edgevision store or is from a newer version, without writing to it."""
        if self.path.is_dir():
            raise BadInput(f"{self.path}: is a directory, expected a result store file")
        if self.path.stat().st_size == 0:
            return
        try:
            with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as con:
                version = con.execute("PRAGMA user_version").fetchone()[0]
                tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if not tables:
                    return
                if not {"meta", "results"} <= tables:
                    raise BadInput(f"{self.path}: an SQLite file but not an edgevision result store; left untouched")
                fmt = con.execute("SELECT value FROM meta WHERE key='format'").fetchone()
                if not fmt or fmt[0] != FORMAT:
                    raise BadInput(f"{self.path}: an SQLite file but not an edgevision result store; left untouched")
                check_schema(version, str(self.path))
                bad = con.execute("PRAGMA quick_check").fetchone()[0]
                if bad != "ok":
                    raise BadInput(f"{self.path}: result store is damaged ({bad}); left untouched — export what "
                                   "can be read or choose another with --store")
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def _init(self, con: sqlite3.Connection) -> None:
        con.executescript(_DDL)
        con.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (FORMAT,))
        con.execute("INSERT OR IGNORE INTO meta VALUES ('created', ?)", (now_iso(),))
        con.execute(f"PRAGMA user_version = {SCHEMA}")

    def add(self, docs: Iterable[dict[str, Any]]) -> Merge:
        """Insert results in one transaction: all of them or, on any error, none."""
        rows = list(docs)
        for d in rows:
            validate(d, str(self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        added = present = conflicts = 0
        try:
            with closing(self._connect()) as con, con:
                self._init(con)
                for d in rows:
                    text = json.dumps(d, sort_keys=True, separators=(",", ":"))
                    old = con.execute("SELECT doc FROM results WHERE id = ?", (d["id"],)).fetchone()
                    if old is not None:
                        same = json.loads(old[0]) == d
                        present, conflicts = present + same, conflicts + (not same)
                        continue
                    con.execute("INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", _row(d, text))
                    added += 1
        except sqlite3.OperationalError as exc:  # full disk, read-only file system, locked: the transaction rolled back
            raise BadInput(f"{self.path}: cannot store results ({exc}); what it held before is unchanged") from None
        except sqlite3.Error as exc:
            raise self._fail(exc) from None
        return Merge(added, present, conflicts)

    def results(self) -> list[dict[str, Any]]:
        """Every stored result, oldest first."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return []
        try:
            with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as con:
                if not con.execute("SELECT 1 FROM sqlite_master WHERE name='results'").fetchone():
                    return []
                rows = con.execute("SELECT doc FROM results ORDER BY created, rowid").fetchall()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None
        from edgevision.documents import decode_json

        return [validate(decode_json(r[0], Any, f"{self.path}: a stored result"), str(self.path))  # type: ignore[arg-type]
                for r in rows]


def _row(d: dict[str, Any], text: str) -> tuple[Any, ...]:
    dev, cfg, model = d["device"], d["config"], d["model"]
    return (d["id"], d["created"], d["kind"], dev.get("device_id"), dev.get("id"), dev.get("name"),
            model.get("name"), model.get("sha256"), cfg.get("threads"), cfg.get("delegate"),
            int(bool(cfg.get("xnnpack", True))), d["metrics"]["invoke"]["p50"], text)


def write_export(path: str | Path, docs: list[dict[str, Any]]) -> Path:
    """A results file for another machine: ``{"format", "schema", "exported", "results": [...]}``."""
    p = Path(path)
    payload = {"format": FORMAT, "schema": SCHEMA, "exported": now_iso(), "results": docs}
    tmp = p.with_name(p.name + ".tmp")
    try:
        tmp.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(p)  # never leave half a file behind
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        kept = "; the existing file is unchanged" if p.exists() else ""
        raise BadInput(f"{p}: cannot write results ({exc.strerror or exc}){kept}") from None
    return p


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Results from an export file (.json) or a store (.sqlite/.db, or any SQLite file)."""
    from edgevision.documents import decode_json
    from edgevision.limits import limits
    from edgevision.plainfile import open_regular

    p = Path(path)
    if p.is_dir():
        raise BadInput(f"{p}: is a directory, expected a results file (.json) or a store (.sqlite)")
    with open_regular(p, "results file") as f:  # a regular file only; its size bounded before it is read
        head = f.read(16)
        if head.startswith(b"SQLite format 3"):
            return ResultStore.open(p).results()
        cap = limits().document_bytes
        raw = head + f.read(cap + 1 - len(head))
    if len(raw) > cap:
        raise BadInput(f"{p}: a results file over {cap:,} bytes")
    try:
        payload = decode_json(raw, Any, str(p), cap)  # type: ignore[arg-type]
    except BadInput as exc:
        raise BadInput(str(exc).replace(": not valid JSON (", ": not a results file (invalid JSON: ", 1)) from None
    if isinstance(payload, list):  # `edgevision bench --json` output
        return [validate(d, str(p)) for d in payload]
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise BadInput(f"{p}: not an edgevision results file (no \"format\": \"{FORMAT}\")")
    check_schema(payload.get("schema"), str(p))
    docs = payload.get("results")
    if not isinstance(docs, list):
        raise BadInput(f"{p}: results file has no \"results\" list")
    return [validate(d, str(p)) for d in docs]


def merge(*groups: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Union of results by id (first copy wins), oldest first; ties keep the order they came in."""
    seen: dict[str, dict[str, Any]] = {}
    for group in groups:
        for d in group:
            seen.setdefault(d["id"], d)
    return sorted(seen.values(), key=lambda d: d["created"])
