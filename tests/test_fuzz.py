"""Fuzzing the device-side entry points: truncated and byte-flipped models through ``info``, ``run``,
``doctor`` and ``device install``, crafted archives through ``device install``; and a coverage-guided
fuzzer (atheris, libFuzzer) over every parser of outside input (tests/fuzz: labels, the FlatBuffer reader,
tar and zip readers, manifest and runtime config, profiles, results import, the MJPEG reader, the web
view's request parsing), from the seeds committed in tests/fuzz/corpus.

Every case must end in exit 0 or one ``error:`` line with exit 1/2: no traceback, no hang, peak RSS
under 300 MB for the whole batch, and nothing written outside the device root. The default run
holds a few hundred cases (about a minute) and a few seconds of each fuzz target; the slow suite
(``-m slow``) thousands, including every truncation offset of the model's first 4 KiB and metadata,
and minutes of each fuzz target.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from edgevision.model.tflite_file import associated_files, metadata_buffers
from edgevision.releases.manifest import FORMAT, MANIFEST, canonical_json, sha256_bytes
from tests.conftest import REPO, need

PEAK_RSS_MB = 300
WORKER = REPO / "tests" / "fuzz_worker.py"
FUZZ_RUNNER = REPO / "tests" / "fuzz" / "run_target.py"
FUZZ_SECONDS, FUZZ_SECONDS_LONG = 3, 120  # per target: `make test`, `make test-all`


def _regions(data: bytes) -> dict[str, tuple[int, int]]:
    """Byte ranges worth mutating: the flatbuffer's structure, the metadata buffer, the labels zip."""
    zip_at = data.find(b"PK\x03\x04")
    meta = metadata_buffers(data).get("TFLITE_METADATA", b"")
    meta_at = data.find(meta) if meta else -1
    regions = {"structure": (0, min(4096, zip_at if zip_at > 0 else len(data)))}
    if meta_at > 0:
        regions["metadata"] = (meta_at, meta_at + len(meta))
    if zip_at > 0:
        regions["labels"] = (zip_at, len(data))
    return regions


def mutated_models(data: bytes, n_trunc: int, n_flip: int, seed: int, dense: bool = False
                   ) -> list[tuple[str, bytes]]:
    """Truncations (the region edges, the first and last 64 bytes, then random offsets; ``dense``: every
    offset of the structure, metadata and labels regions) and random byte flips inside each region."""
    rng = random.Random(seed)
    regions = _regions(data)
    cut_points = set(range(0, 64)) | {len(data) - k for k in range(1, 64)}
    for lo, hi in regions.values():
        cut_points |= set(range(lo, hi + 1)) if dense else {lo, hi, lo + 1, hi - 1}
    if len(cut_points) > n_trunc:
        cut_points = set(rng.sample(sorted(cut_points), n_trunc))
    cut_points |= {rng.randrange(len(data)) for _ in range(max(0, n_trunc - len(cut_points)))}
    cases = [(f"truncated@{n}", data[:n]) for n in sorted(cut_points)]
    for name, (lo, hi) in regions.items():
        for i in range(n_flip):
            buf = bytearray(data)
            for _ in range(rng.choice((1, 1, 2, 8))):
                pos = rng.randrange(lo, hi)
                buf[pos] = rng.choice((buf[pos] ^ (1 << rng.randrange(8)), rng.randrange(256), 0xFF, 0x00))
            cases.append((f"{name}-flip{i}", bytes(buf)))
    return cases


def forge_bundle(good: Path, out: Path, model: bytes) -> Path:
    """The good bundle with its model replaced and every hash and the id recomputed: only the
    device's own model checks stand between this and the service."""
    out.mkdir(parents=True)
    manifest = json.loads((good / MANIFEST).read_text())
    model_name = manifest["runtime"]["model"]
    for name in manifest["files"]:
        payload = model if name == model_name else (good / name).read_bytes()
        (out / name).write_bytes(payload)
        manifest["files"][name] = {"sha256": sha256_bytes(payload), "size": len(payload)}
    core = {"format": FORMAT, "profile": manifest["profile"], "runtime": manifest["runtime"],
            "files": manifest["files"]}
    manifest["id"] = sha256_bytes(canonical_json(core))[:16]
    (out / MANIFEST).write_text(json.dumps(manifest))
    return out


def _tar(out: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(out, "w:gz", compresslevel=1) as tf:
        for info, payload in members:
            tf.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return out


def _file(name: str, payload: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(payload), 0o644
    return info, payload


class _Zeros(io.RawIOBase):
    def __init__(self, n: int) -> None:
        self.left = n

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        k = min(len(b), self.left)
        b[:k] = bytes(k)
        self.left -= k
        return k


def crafted_archives(good: Path, d: Path, big_mb: int) -> list[tuple[str, Path]]:
    files = {p.name: p.read_bytes() for p in sorted(good.iterdir())}
    base = [_file(n, b) for n, b in files.items()]
    manifest = json.loads(files[MANIFEST])
    out: list[tuple[str, Path]] = []

    def add(name: str, members: list) -> None:
        out.append((name, _tar(d / f"{name}.tar.gz", members)))

    for evil in ("../escape.txt", "/tmp/abs.txt", "a/../../up.txt", "sub/x.txt", ".hidden.txt", "..", "C:x.txt"):
        add(f"name-{len(out)}", [*base, _file(evil, b"x")])
    for kind, linkname in ((tarfile.SYMTYPE, "/etc/passwd"), (tarfile.LNKTYPE, MANIFEST), (tarfile.SYMTYPE, "..")):
        info = tarfile.TarInfo("runtime.json" if kind == tarfile.SYMTYPE else "link.txt")
        info.type, info.linkname = kind, linkname
        add(f"link-{len(out)}", [m for m in base if m[0].name != info.name] + [(info, None)])
    for kind in (tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.DIRTYPE):
        info = tarfile.TarInfo("special.txt")
        info.type = kind
        add(f"special-{len(out)}", [*base, (info, None)])
    add("duplicate", [*base, _file(MANIFEST, files[MANIFEST])])
    add("unlisted", [*base, _file("extra.txt", b"not in the manifest\n")])
    add("missing-manifest", [m for m in base if m[0].name != MANIFEST])
    add("huge-manifest", [m for m in base if m[0].name != MANIFEST] + [_file(MANIFEST, b" " * (2 << 20))])
    add("many-entries", [*base, *(_file(f"f{i}.txt", b"") for i in range(80))])
    # declared sizes: a manifest claiming a huge file, and entries larger than the manifest says
    big = dict(manifest, files={**manifest["files"], "big.txt": {"sha256": "0" * 64, "size": big_mb << 20}})
    add("declares-huge", [m for m in base if m[0].name != MANIFEST] + [_file(MANIFEST, json.dumps(big).encode())])
    for name, listed in (("oversized-unlisted", False), ("oversized-listed-small", True)):
        info = tarfile.TarInfo("big.txt")
        info.size = big_mb << 20
        m = dict(manifest, files={**manifest["files"], **({"big.txt": {"sha256": "0" * 64, "size": 10}}
                                                          if listed else {})})
        path = d / f"{name}.tar.gz"
        with tarfile.open(path, "w:gz", compresslevel=1) as tf:
            for n, b in [(MANIFEST, json.dumps(m).encode()), *((n, b) for n, b in files.items() if n != MANIFEST)]:
                entry, payload = _file(n, b)
                tf.addfile(entry, io.BytesIO(payload))
            tf.addfile(info, _Zeros(info.size))
        out.append((name, path))
    raw = (d / f"{out[0][0]}.tar.gz").read_bytes()
    good_tar = _tar(d / "good-copy.tar.gz", base).read_bytes()
    for i, cut in enumerate((10, 100, len(good_tar) // 2, len(good_tar) - 5)):
        (d / f"cut{i}.tar.gz").write_bytes(good_tar[:cut])
        out.append((f"truncated-{cut}", d / f"cut{i}.tar.gz"))
    rng = random.Random(7)
    for i in range(6):
        buf = bytearray(good_tar)
        buf[rng.randrange(10, len(buf))] ^= 0x40
        (d / f"flip{i}.tar.gz").write_bytes(bytes(buf))
        out.append((f"gz-flip{i}", d / f"flip{i}.tar.gz"))
    (d / "not-gzip.tar.gz").write_bytes(gzip.compress(b"plain text, not a tar"))
    out.append(("not-a-tar", d / "not-gzip.tar.gz"))
    assert raw
    return out


def _snapshot(top: Path, skip: Path) -> dict[str, tuple[int, int]]:
    snap = {}
    for p in top.rglob("*"):
        if skip in p.parents or p == skip:
            continue
        try:
            st = p.lstat()
        except FileNotFoundError:
            continue
        if not p.is_dir():
            snap[str(p)] = (st.st_size, st.st_mtime_ns)
    return snap


def _run_worker(python: str, cases: list[list[str]], work: Path, timeout: float) -> dict:
    cases_file, results = work / "cases.json", work / "results.json"
    cases_file.write_text(json.dumps(cases))
    env = {**os.environ, "FUZZ_ALARM_S": "30", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([python, str(WORKER), str(cases_file), str(results)], cwd=work, env=env,
                          capture_output=True, text=True, timeout=timeout)
    progress = results.with_suffix(".progress")
    assert proc.returncode == 0, (f"worker died ({proc.returncode}) at "
                                  f"{progress.read_text() if progress.exists() else '?'}: {proc.stderr[-2000:]}")
    return json.loads(results.read_text())


def _check(report: dict) -> None:
    bad = []
    for r in report["results"]:
        if r.get("traceback") or r.get("hang") or "Traceback" in r["stderr"]:
            bad.append((r["argv"], r.get("traceback") or ("hang" if r.get("hang") else r["stderr"])))
        elif r["code"] != 0:
            errors = [ln for ln in r["stderr"].splitlines() if ln.startswith("error:")]
            if r["code"] not in (1, 2) or len(errors) != 1:
                bad.append((r["argv"], f"exit {r['code']}: {r['stderr'][-600:]}"))
    assert not bad, f"{len(bad)} bad cases; first: {bad[:3]}"
    assert report["peak_rss_mb"] < PEAK_RSS_MB, f"peak RSS {report['peak_rss_mb']:.0f} MB"


def _fuzz(trained, python: str, tmp_path: Path, n_trunc: int, n_flip: int, seed: int, big_mb: int,
          timeout: float, dense: bool = False) -> dict:
    import cv2
    import numpy as np

    work = tmp_path / "work"
    (work / "models").mkdir(parents=True)
    root = work / "device-root"
    image = work / "frame.png"
    cv2.imwrite(str(image), np.full((48, 48, 3), 127, np.uint8))
    good = work / "good-bundle"
    made = subprocess.run([sys.executable, "-m", "edgevision", "bundle", str(trained.int8), "--profile", "x86-64",
                           "--source", str(image), "--out", str(good)], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    data = trained.int8.read_bytes()
    assert set(_regions(data)) == {"structure", "metadata", "labels"} and associated_files(data)
    cases: list[list[str]] = []
    for i, (name, blob) in enumerate(mutated_models(data, n_trunc, n_flip, seed, dense)):
        path = work / "models" / f"{i:04d}-{name}.tflite"
        path.write_bytes(blob)
        cases.append(["info", str(path), "--json"])
        if i % 2 == 0:
            cases.append(["run", str(path), "--source", str(image), "--max-frames", "1", "--no-stdout", "--quiet"])
        if i % 4 == 1:
            cases.append(["doctor", str(path), "--json"])
        if i % 4 == 3:
            bundle = forge_bundle(good, work / "bundles" / f"{i:04d}", blob)
            cases.append(["device", "install", str(bundle), "--root", str(root)])
    for _name, archive in crafted_archives(good, work, big_mb):
        cases.append(["device", "install", str(archive), "--root", str(root)])
    before = _snapshot(tmp_path, root)
    report = _run_worker(python, cases, work, timeout)
    after = _snapshot(tmp_path, root)
    ours = {str(work / n) for n in ("cases.json", "results.json", "results.progress")}
    written = sorted(set(after) - set(before) - ours)
    changed = sorted(k for k in before if before[k] != after.get(k) and k not in ours)
    assert not written and not changed, f"touched outside the device root: {(written + changed)[:5]}"
    assert not any(p.name in ("escape.txt", "abs.txt", "up.txt") for p in tmp_path.parent.rglob("*.txt")
                   if root not in p.parents)
    _check(report)
    report["cases"] = len(cases)
    return report


@pytest.fixture()
def fuzz_python(device_python: str) -> str:
    return device_python  # the device side, as a Pi runs it: no TensorFlow


def test_fuzz_models_and_archives(trained, fuzz_python, tmp_path: Path) -> None:
    report = _fuzz(trained, fuzz_python, tmp_path, n_trunc=70, n_flip=35, seed=12, big_mb=16, timeout=420)
    assert report["cases"] >= 250
    print(f"fuzz: {report['cases']} cases, peak RSS {report['peak_rss_mb']:.0f} MB")


@pytest.mark.slow
@pytest.mark.timeout(3000)
def test_fuzz_models_and_archives_thousands(trained, fuzz_python, tmp_path: Path) -> None:
    report = _fuzz(trained, fuzz_python, tmp_path, n_trunc=1500, n_flip=200, seed=1212, big_mb=1900, timeout=2700,
                   dense=True)
    assert report["cases"] >= 3000
    print(f"fuzz: {report['cases']} cases, peak RSS {report['peak_rss_mb']:.0f} MB")


def _atheris(python: str, target: str, seconds: int, out: Path) -> int:
    """Run one target for ``seconds``; returns how many inputs it tried. A crash fails with its input's path."""
    proc = subprocess.run([python, str(FUZZ_RUNNER), target, str(seconds), str(out)], capture_output=True, text=True,
                          timeout=seconds + 120, cwd=out.parent, env={**os.environ, "PYTHONPATH": str(REPO)})
    crashes = sorted(p.name for p in out.glob("*") if p.is_file())
    report = "\n".join(ln for ln in proc.stderr.splitlines() if not ln.startswith(("INFO:", "#", "WARNING:")))
    assert proc.returncode == 0 and not crashes, f"{target}: {crashes} in {out}\n{report[-4000:]}"
    runs = [int(ln.split(":")[-1]) for ln in proc.stderr.splitlines() if "number_of_executed_units" in ln]
    assert runs and runs[-1] > 0, proc.stderr[-2000:]
    return runs[-1]


def _fuzz_every_parser(python: str, tmp_path: Path, seconds: int) -> dict[str, int]:
    from tests.fuzz.targets import TARGETS

    need(subprocess.run([python, "-c", "import atheris"], capture_output=True).returncode == 0,
         "atheris is not installed in the device venv (pip install 'edgevision[device-test]')")
    from concurrent.futures import ThreadPoolExecutor

    for target in TARGETS:
        assert any((REPO / "tests" / "fuzz" / "corpus" / target).iterdir()), f"no committed seeds for {target}"
    with ThreadPoolExecutor(max_workers=2) as pool:  # two at a time: the machine's two cores
        runs = pool.map(lambda t: _atheris(python, t, seconds, tmp_path / t), sorted(TARGETS))
        counts = dict(zip(sorted(TARGETS), runs, strict=True))
    print("fuzz:", ", ".join(f"{t} {n:,} inputs" for t, n in counts.items()))
    return counts


def test_coverage_guided_fuzzing_of_every_parser(fuzz_python, tmp_path: Path) -> None:
    counts = _fuzz_every_parser(fuzz_python, tmp_path, FUZZ_SECONDS)
    assert len(counts) == 13 and min(counts.values()) > 50, counts


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_coverage_guided_fuzzing_of_every_parser_for_minutes(fuzz_python, tmp_path: Path) -> None:
    counts = _fuzz_every_parser(fuzz_python, tmp_path, FUZZ_SECONDS_LONG)
    assert min(counts.values()) > 1000, counts
