"""Bounded memory on small hostile inputs (issue 12), each through the real CLI on the device side,
peak RSS measured: a zip that inflates to gigabytes inside a model, a PNG header declaring 20000x20000,
bundles whose manifest or archive headers declare more than they should; and the limits can be raised."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

from tests.test_fuzz import PEAK_RSS_MB, _run_worker, crafted_archives

INFLATED = 1536 << 20  # 1.5 GiB of zeros deflates to about 1.5 MB


def _bomb(model: bytes, lie: bool) -> bytes:
    """``model`` with its associated zip replaced by one whose labels.txt inflates to 1.5 GiB; with ``lie``
    the zip's directory claims 100 bytes instead."""
    flat = model[: model.find(b"PK\x03\x04")]
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 24)
    # a full flush resets the window, so the same compressed segment can simply be repeated
    segment = z.compress(chunk) + z.flush(zlib.Z_FULL_FLUSH)
    deflated = segment * (INFLATED // len(chunk)) + z.flush()
    crc = 0
    for _ in range(INFLATED // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    size = 100 if lie else INFLATED
    name = b"labels.txt"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(deflated), size, len(name), 0) + name
    offset = len(flat)
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(deflated), size, len(name),
                          0, 0, 0, 0, 0, offset) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), offset + len(local) + len(deflated), 0)
    blob = flat + local + deflated + central + end
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:  # a well-formed zip, as far as its directory goes
        assert zf.infolist()[0].file_size == size
    return blob


def _png(w: int, h: int) -> bytes:
    rows = zlib.compress(b"".join(b"\0" + bytes(w * 3) for _ in range(16)), 9)
    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def _one_error(result: dict, *needles: str) -> None:
    assert not result.get("traceback") and not result.get("hang"), result
    errors = [ln for ln in result["stderr"].splitlines() if ln.startswith("error:")]
    assert result["code"] in (1, 2) and len(errors) == 1, result
    for n in needles:
        assert n in errors[0], errors[0]


def test_small_files_that_claim_huge_sizes_cost_bounded_memory(trained, device_python, tmp_path: Path) -> None:
    data = trained.int8.read_bytes()
    honest, liar = tmp_path / "bomb.tflite", tmp_path / "liar.tflite"
    honest.write_bytes(_bomb(data, lie=False))
    liar.write_bytes(_bomb(data, lie=True))
    assert honest.stat().st_size < 3 << 20
    png = tmp_path / "huge.png"
    png.write_bytes(_png(20000, 20000))
    assert png.stat().st_size < 2 << 20
    good = tmp_path / "good"
    made = subprocess.run([sys.executable, "-m", "edgevision", "bundle", str(trained.int8), "--profile", "x86-64",
                           "--source", "0", "--out", str(good)], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    archives = dict(crafted_archives(good, tmp_path, big_mb=600))
    root = tmp_path / "root"
    cases = [["info", str(honest)], ["run", str(honest), "--source", str(png)], ["doctor", str(liar)],
             ["info", str(liar)], ["run", str(trained.int8), "--source", str(png), "--quiet"]]
    cases += [["device", "install", str(archives[k]), "--root", str(root)]
              for k in ("declares-huge", "oversized-unlisted", "oversized-listed-small")]
    report = _run_worker(device_python, cases, tmp_path, timeout=600)
    r = report["results"]
    _one_error(r[0], "associated files inflate to 1536 MB", "EDGEVISION_MAX_ASSOCIATED_MB")
    _one_error(r[1], "associated files")
    _one_error(r[2], "associated file 'labels.txt' is corrupt")
    _one_error(r[3], "associated file 'labels.txt' is corrupt")
    _one_error(r[4], "20000x20000", "EDGEVISION_MAX_IMAGE_PIXELS")
    _one_error(r[5], "declares 600 MB", "EDGEVISION_MAX_BUNDLE_MB")
    _one_error(r[6], "'big.txt' is not listed in the manifest")
    _one_error(r[7], "'big.txt' is 629,145,600 bytes but the manifest says 10")
    assert report["peak_rss_mb"] < PEAK_RSS_MB, report["peak_rss_mb"]
    assert not (root / "releases").exists() or not [p for p in (root / "releases").iterdir()]


def test_limits_can_be_raised_or_lowered(cli, trained, tmp_path: Path) -> None:
    def run(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cli.python, "-m", "edgevision", *map(str, args)], capture_output=True, text=True,
                              timeout=300, env={**cli.env, **env})

    out = run({"EDGEVISION_MAX_MODEL_MB": "0.01"}, "info", trained.int8)
    assert out.returncode == 2 and "over the 0 MB limit" in out.stderr and "EDGEVISION_MAX_MODEL_MB" in out.stderr
    png = tmp_path / "wide.png"
    png.write_bytes(_png(9000, 16))
    out = run({"EDGEVISION_MAX_IMAGE_PIXELS": "100000"}, "run", trained.int8, "--source", png)
    assert out.returncode == 2 and "9000x16 pixels" in out.stderr
    out = run({"EDGEVISION_MAX_IMAGE_PIXELS": "200000"}, "run", trained.int8, "--source", png)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[0])["label"]
    out = run({"EDGEVISION_MAX_MODEL_MB": "lots"}, "info", trained.int8)
    assert out.returncode == 2 and "expected a positive number" in out.stderr


def test_every_limit_is_one_row_of_one_table_and_the_docs_show_that_table() -> None:
    from edgevision.limits import LIMITS, Limits, markdown_table

    assert list(Limits._fields) == [row.field for row in LIMITS]
    assert all(getattr(Limits(), row.field) == row.default for row in LIMITS)
    doc = (Path(__file__).resolve().parents[1] / "docs" / "errors.md").read_text(encoding="utf-8")
    assert markdown_table() in doc, f"docs/errors.md's limits table is not limits.markdown_table():\n{markdown_table()}"


def test_a_limit_variable_is_read_per_call_and_a_bad_value_is_one_line(monkeypatch) -> None:
    import pytest

    from edgevision.errors import BadInput
    from edgevision.limits import limits

    monkeypatch.setenv("EDGEVISION_MAX_TENSORS", "12")
    monkeypatch.setenv("EDGEVISION_MAX_FRAME_MB", "0.5")
    assert (limits().tensors, limits().frame_bytes) == (12, 512 * 1024)
    monkeypatch.setenv("EDGEVISION_MAX_FRAME_SECONDS", "soon")
    with pytest.raises(BadInput, match="EDGEVISION_MAX_FRAME_SECONDS"):
        limits()
