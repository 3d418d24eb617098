"""The result store and export files: lossless round trips, and bad files refused with nothing lost."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from edgevision.bench.result_store import ResultStore, merge, read_results, write_export
from edgevision.errors import BadInput
from tests.bench.docs import make_doc


def test_round_trip_through_store_and_files_is_lossless(tmp_path: Path) -> None:
    docs = [make_doc(25.0), make_doc(31.0, quant="float32", threads=1)]
    docs[0]["device"]["future_field"] = {"kept": [1, 2.5, "x"]}  # fields this version does not know survive
    docs[0]["samples_ms"] = [0.1 + 1e-9, 1 / 3, 12345.678901234]   # floats keep every digit
    exported = write_export(tmp_path / "pi4.json", docs)
    store = ResultStore.open(tmp_path / "laptop.sqlite")
    m = store.add(read_results(exported))
    assert (m.added, m.present, m.conflicts) == (2, 0, 0)
    assert store.results() == docs  # same created second: kept in the order they were added
    again = write_export(tmp_path / "again.json", store.results())
    assert merge(read_results(again)) == merge(read_results(exported))
    assert read_results(tmp_path / "laptop.sqlite") == store.results()  # a store is also a results file


def test_import_twice_and_conflicts(tmp_path: Path) -> None:
    doc = make_doc()
    store = ResultStore.open(tmp_path / "s.sqlite")
    assert store.add([doc]).added == 1
    assert store.add([doc]).present == 1
    changed = json.loads(json.dumps(doc))
    changed["metrics"]["invoke"]["p50"] = 1.0
    assert store.add([changed]).conflicts == 1
    assert store.results() == [doc]  # the stored copy is kept


def test_newer_schema_file_refused_and_store_unchanged(tmp_path: Path) -> None:
    store = ResultStore.open(tmp_path / "s.sqlite")
    store.add([make_doc()])
    before = (tmp_path / "s.sqlite").read_bytes()
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"format": "edgevision-bench", "schema": 99, "results": []}))
    with pytest.raises(BadInput, match=r"newer edgevision \(result schema 99"):
        read_results(newer)
    one_newer = tmp_path / "one_newer.json"
    write_export(one_newer, [make_doc(), {**make_doc(), "schema": 2}])
    with pytest.raises(BadInput, match="schema 2"):
        store.add(read_results(one_newer))
    assert (tmp_path / "s.sqlite").read_bytes() == before


def test_store_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    ResultStore.open(path).add([make_doc()])
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA user_version = 7")
    before = path.read_bytes()
    with pytest.raises(BadInput, match="result schema 7"):
        ResultStore.open(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("content", [b"this is not a database at all" * 100,
                                     b"SQLite format 3\x00" + b"\xff" * 4000])
def test_corrupt_store_is_refused_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "s.sqlite"
    path.write_bytes(content)
    with pytest.raises(BadInput, match=r"s\.sqlite"):
        ResultStore.open(path).add([make_doc()])
    assert path.read_bytes() == content


def test_other_sqlite_database_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "photos.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE photos (id INTEGER)")
    before = path.read_bytes()
    with pytest.raises(BadInput, match="not an edgevision result store"):
        ResultStore.open(path)
    assert path.read_bytes() == before


def test_malformed_results_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(BadInput, match="invalid JSON"):
        read_results(bad)
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(BadInput, match="not an edgevision results file"):
        read_results(bad)
    doc = make_doc()
    del doc["metrics"]["invoke"]["p50"]
    write_export(bad, [doc])
    with pytest.raises(BadInput, match="no invoke latency"):
        read_results(bad)
    with pytest.raises(BadInput, match="not found"):
        read_results(tmp_path / "missing.json")


def test_merge_dedupes_by_id() -> None:
    a, b = make_doc(created="2025-01-01T00:00:00Z"), make_doc(created="2025-01-03T00:00:00Z")
    assert merge([b, a], [a]) == [a, b]
