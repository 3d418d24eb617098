"""The lab's rootfs build against a Debian mirror caught mid-sync (slow: root and the lab's packages).

A Debian mirror on loopback serves a Release file and, for the first tries, a Packages index of another
size than the Release lists: apt's own "File has unexpected size ... Mirror sync in progress?", as
deb.debian.org answers while it syncs. The real mmdebstrap (under qemu-user for arm64) meets it through
``LAB_MIRROR``; build.sh must try again, say so on stderr, stop at an error another try cannot fix,
record why in the target's status file, and ``build_all.sh`` must report every target and exit non-zero.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.devicelab import lab

BUILD_ALL = lab.REPO / "device" / "lab" / "build_all.sh"
# What the Release file lists, and the file of another size a mirror mid-sync still has.
CURRENT = b"Package: lab-placeholder\nVersion: 1\nArchitecture: all\nFilename: pool/l/lab_1_all.deb\nSize: 1\n\n"
STALE = b"Package: lab-placeholder\nVersion: 0\nArchitecture: all\n\n"


@dataclass
class Mirror:
    """A loopback Debian mirror whose Packages index is stale while the Release file was fetched at most
    ``stale_tries`` times (each mmdebstrap try fetches it once)."""

    stale_tries: int
    url: str = ""
    releases: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def release(self, suite: str = "bookworm") -> bytes:
        digest = hashlib.sha256(CURRENT).hexdigest()
        date = time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime())
        return (f"Origin: lab\nLabel: lab\nSuite: {suite}\nCodename: {suite}\nDate: {date}\n"
                f"Architectures: arm64 armhf\nComponents: main\nSHA256:\n"
                f" {digest} {len(CURRENT)} main/binary-arm64/Packages\n"
                f" {digest} {len(CURRENT)} main/binary-armhf/Packages\n").encode()

    def answer(self, path: str) -> bytes | None:
        with self.lock:
            if path == "/debian/dists/bookworm/Release":
                self.releases += 1
                return self.release()
            if path.startswith("/debian/dists/bookworm/main/binary-") and path.endswith("/Packages"):
                return STALE if self.releases <= self.stale_tries else CURRENT
        return None   # InRelease, Release.gpg and the rest: not there (the sources line says trusted=yes)

    @property
    def sources(self) -> str:
        return f"deb [trusted=yes] {self.url}/debian bookworm main"


@dataclass
class SecurityMirror(Mirror):
    """A mirror whose distribution is consistent and whose security suite's index never matches its Release
    (as deb.debian.org's bookworm-security armhf index did for days); ``security_releases`` counts its fetches."""

    security_releases: int = 0

    def answer(self, path: str) -> bytes | None:
        with self.lock:
            if path == "/debian-security/dists/bookworm-security/Release":
                self.security_releases += 1
                return self.release("bookworm-security")
            if path.startswith("/debian-security/dists/bookworm-security/main/binary-") and path.endswith("/Packages"):
                return STALE
        return super().answer(path)

    @property
    def sources(self) -> str:
        return f"{super().sources}\ndeb [trusted=yes] {self.url}/debian-security bookworm-security main\n"


def _serve(mirror: Mirror) -> Iterator[Mirror]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = mirror.answer(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    mirror.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield mirror
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tools() -> None:
    missing = [t for t in ("mmdebstrap", "arch-test") if shutil.which(t) is None]
    why = ("the lab's build needs root" if os.geteuid() != 0 else
           f"missing {', '.join(missing)} (make system-packages-devicelab)" if missing else "")
    if why:
        (pytest.fail if os.environ.get("EDGEVISION_LAB_REQUIRE") == "1" else pytest.skip)(why)


@pytest.fixture
def once_stale() -> Iterator[Mirror]:
    yield from _serve(Mirror(stale_tries=1))


@pytest.fixture
def always_stale() -> Iterator[Mirror]:
    yield from _serve(Mirror(stale_tries=10**6))


@pytest.fixture
def stale_security() -> Iterator[Mirror]:
    yield from _serve(SecurityMirror(stale_tries=0))


def _build(mirror: Mirror, cache: Path, delays: str, *argv: str) -> subprocess.CompletedProcess[str]:
    sources = mirror.sources
    if "\n" in sources:   # several lines: a sources.list file, as LAB_MIRROR takes them
        (cache / "given.sources.list").write_text(sources)
        sources = str(cache / "given.sources.list")
    env = {**os.environ, "LAB_MIRROR": sources, "LAB_RETRY_DELAYS": delays}
    return subprocess.run(list(argv or ("sh", str(lab.BUILD), "bookworm-arm64", str(cache))), env=env,
                          capture_output=True, text=True, timeout=600)


def _retries(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("build.sh: bookworm-arm64: transient fetch failure")]


def test_a_mirror_mid_sync_is_tried_again_and_the_next_error_stops_it(tools, once_stale: Mirror,
                                                                      tmp_path: Path) -> None:
    out = _build(once_stale, tmp_path, "1 1")
    assert out.returncode == 1, out.stderr[-3000:]
    (retry,) = _retries(out.stderr)
    assert "Mirror sync in progress?" in retry and retry.endswith("try 2 of 3 in 1 s"), retry
    assert once_stale.releases == 2   # one more try, then a failure no try can fix: no third
    status = (tmp_path / "bookworm-arm64.status").read_text().strip()
    assert status.startswith("failed: E: Unable to locate package python3"), status
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert errors == [f"error: bookworm-arm64: {status.removeprefix('failed: ')}"]
    assert not (tmp_path / "bookworm-arm64.tar").exists()
    assert not (tmp_path / "bookworm-arm64.partial.tar").exists()
    log = (tmp_path / "bookworm-arm64.log").read_text()
    assert "Mirror sync in progress?" in log and "=== build.sh: try 2 of 3" in log   # both tries' output kept


def test_a_mirror_that_stays_mid_sync_fails_after_the_last_try(tools, always_stale: Mirror, tmp_path: Path) -> None:
    out = _build(always_stale, tmp_path, "0 0")
    assert out.returncode == 1
    assert [r.rsplit("; ", 1)[1] for r in _retries(out.stderr)] == ["try 2 of 3 in 0 s", "try 3 of 3 in 0 s"]
    assert always_stale.releases == 3
    status = (tmp_path / "bookworm-arm64.status").read_text().strip()
    assert status.startswith("failed: E: Failed to fetch ") and "Mirror sync in progress?" in status
    assert "(after 3 tries; log: " in status
    assert "the mirror gave the same kind of failure 3 times; LAB_MIRROR" in out.stderr   # what to do about it


def test_every_target_is_reported_and_a_failed_build_fails_its_target(tools, always_stale: Mirror, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bookworm-armhf.tar").write_bytes(b"")   # built earlier: cached, whatever the mirror does
    out = _build(always_stale, tmp_path, "", "sh", str(BUILD_ALL), str(tmp_path), "bookworm-arm64", "bookworm-armhf")
    assert out.returncode == 1
    lines = out.stdout.splitlines()   # each build's own output, then the summary
    lines = lines[lines.index(f"device lab rootfs ({tmp_path}):"):]
    assert len(lines) == 3, lines
    arm64, armhf = lines[1].split(), lines[2].split()
    assert arm64[:4] == ["bookworm-arm64", "failed:", "E:", "Failed"] and "Mirror sync in progress?" in lines[1]
    assert armhf[:2] == ["bookworm-armhf", "cached"]
    assert out.stderr.rstrip().splitlines()[-1] == "error: 1 of 2 lab targets failed to build"
    # what the lab's device fixture reads: the failed target fails its tests with this reason, not a skip
    monkeypatch.setattr(lab, "CACHE", tmp_path)
    assert lab.build_failure("bookworm-arm64").startswith("E: Failed to fetch ")
    assert lab.build_failure("bookworm-armhf") == ""
    assert lab.build_failure("trixie-arm64") == ""   # never built: no status, nothing to report


def test_a_security_suite_that_stays_inconsistent_is_left_out_of_one_last_try(tools, stale_security: Mirror,
                                                                             tmp_path: Path) -> None:
    out = _build(stale_security, tmp_path, "0 0")
    assert out.returncode == 1, out.stderr[-3000:]
    assert len(_retries(out.stderr)) == 2
    assert "bookworm-security's index stayed inconsistent" in out.stderr and "one more try without it" in out.stderr
    assert stale_security.security_releases == 3   # three tries with the security suite, the last one without
    assert stale_security.releases == 4
    used = (tmp_path / "bookworm-arm64.sources.list").read_text()
    assert "bookworm-security" not in used and f"{stale_security.url}/debian bookworm main" in used
    # the loopback mirror has no packages: the last try fails on that, and says it, not the stale index
    status = (tmp_path / "bookworm-arm64.status").read_text().strip()
    assert status.startswith("failed: E: Unable to locate package python3"), status
    assert "=== build.sh: a last try without bookworm-security" in (tmp_path / "bookworm-arm64.log").read_text()
