"""Archive extraction refuses every entry that could land outside its directory, before writing anything."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from edgevision.errors import CheckFailed
from edgevision.limits import limits
from edgevision.releases.archive import safe_extract
from edgevision.releases.manifest import MANIFEST, Manifest, file_entry
from edgevision.releases.runtime_config import RuntimeConfig


def _archive(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"ok\n") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _special(name: str, kind: bytes, link: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info, None


EVIL = {
    "parent": ([_file("manifest.json"), _file("../escaped.txt")], "escapes the target directory"),
    "deep parent": ([_file("a/../../escaped.txt")], "escapes the target directory"),
    "absolute": ([_file("/tmp/escaped.txt")], "escapes the target directory"),
    "symlink out": ([_special("model.tflite", tarfile.SYMTYPE, "/etc/passwd")], "symbolic link"),
    "symlink then write through it": ([_special("d", tarfile.SYMTYPE, ".."), _file("d/escaped.txt")], "link"),
    "hardlink out": ([_special("model.tflite", tarfile.LNKTYPE, "../../etc/passwd")], "hard link"),
    "hardlink in": ([_file("a.txt"), _special("b.txt", tarfile.LNKTYPE, "a.txt")], "hard link"),
    "fifo": ([_special("fifo.txt", tarfile.FIFOTYPE)], "special entry"),
    "char device": ([_special("null.txt", tarfile.CHRTYPE)], "special entry"),
    "nested": ([_file("sub/model.tflite")], "sub-directory"),
    "directory": ([_special("sub", tarfile.DIRTYPE)], "directory"),
    "duplicate": ([_file("a.txt"), _file("./a.txt")], "twice"),
    "hidden": ([_file(".bashrc")], "hidden"),
    "too many": ([_file(f"f{i}.txt") for i in range(limits().bundle_files + 1)], "at most"),
}


@pytest.mark.parametrize("case", sorted(EVIL))
def test_bad_entries_are_refused_before_anything_is_written(tmp_path: Path, case: str) -> None:
    members, reason = EVIL[case]
    work = tmp_path / "work"
    dest = work / "releases" / "staging"
    dest.mkdir(parents=True)
    archive = _archive(tmp_path / "evil.tar.gz", members)
    with pytest.raises(CheckFailed, match=reason):
        safe_extract(archive, dest)
    assert list(dest.iterdir()) == [], "nothing is written when any entry is refused"
    assert not list(tmp_path.rglob("escaped.txt"))


def _manifest(files: dict[str, bytes]) -> tuple[tarfile.TarInfo, bytes]:
    """A manifest listing ``files`` (extraction checks the declared sizes; hashes are verify_bundle_dir's job)."""
    rt = RuntimeConfig(model="model.tflite", source="0")
    listed = {n: file_entry(b) for n, b in files.items()}
    m = Manifest(id=Manifest.compute_id({}, rt, listed), created="now", edgevision="0", profile={}, model={},
                 runtime=rt, files=listed)
    return _file(MANIFEST, m.to_json())


def test_good_archive_extracts_plain_files_0644(tmp_path: Path) -> None:
    dest = tmp_path / "d"
    dest.mkdir()
    info, data = _file("./model.tflite", b"\x00" * 10)
    info.mode = 0o4755  # setuid + exec bits in the archive are not carried over
    archive = _archive(tmp_path / "ok.tar.gz", [_special(".", tarfile.DIRTYPE), (info, data), _file("a.json"),
                                                _manifest({"model.tflite": data, "a.json": b"ok\n"})])
    assert safe_extract(archive, dest) == ["a.json", MANIFEST, "model.tflite"]
    assert (dest / "model.tflite").stat().st_mode & 0o7777 == 0o644


@pytest.mark.parametrize(("extra", "reason"), [
    ([_file("b.txt")], "not listed in the manifest"),
    ([], "no manifest.json"),
])
def test_entries_must_be_listed_with_their_size_before_anything_is_written(tmp_path: Path, extra: list,
                                                                           reason: str) -> None:
    dest = tmp_path / "d"
    dest.mkdir()
    members = [_file("a.txt", b"12345"), *extra]
    if reason != "no manifest.json":
        members.append(_manifest({"a.txt": b"12345"}))
    with pytest.raises(CheckFailed, match=reason):
        safe_extract(_archive(tmp_path / "x.tar.gz", members), dest)
    with pytest.raises(CheckFailed, match="is 6 bytes but the manifest says 5"):
        safe_extract(_archive(tmp_path / "y.tar.gz", [_file("a.txt", b"123456"), _manifest({"a.txt": b"12345"})]),
                     dest)
    assert list(dest.iterdir()) == []


def test_corrupt_and_truncated_archives(tmp_path: Path) -> None:
    dest = tmp_path / "d"
    dest.mkdir()
    good = _archive(tmp_path / "ok.tar.gz", [_file("a.txt", b"x" * 100_000)])
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(CheckFailed, match=r"corrupt|truncated|readable"):
        safe_extract(cut, dest)
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    with pytest.raises(CheckFailed, match="readable"):
        safe_extract(junk, dest)
