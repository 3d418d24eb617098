"""The release store on the device: verified bundles side by side, ``current`` and ``previous`` links.

Layout under the device root (``~/edgevision`` unless ``--root``)::

    releases/<model>-<id>/   verified bundles, never modified after install
    current -> releases/…    what the service runs; swapped with one rename(2)
    previous -> releases/…   what `edgevision device rollback` goes back to
    incoming/                uploads, deleted after install
    kit/                     the deployment kit (unit template) copied by deploy
    service/                 the rendered unit, the supervisor's pid and state, its log
    labels.jsonl             the service's label events (and drift records)
    history.jsonl            one line per install / activate / rollback
    samples/                 frames worth labelling the service kept (`edgevision device samples pull`)
    baselines/<id>.json      reference profiles recorded on the device (`edgevision device baseline`)
    drift.json               the drift monitor's latest state (`edgevision device status`)

A bundle is extracted into a hidden staging directory and verified there; only then is it renamed
into ``releases/``, and only a verified release is ever linked as ``current``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgevision.errors import BadInput, CheckFailed, disk_full
from edgevision.limits import hint, limits
from edgevision.plainfile import DIR_MODE, make_dir, open_append, open_regular
from edgevision.releases.archive import FILE_MODE, safe_extract
from edgevision.releases.manifest import Manifest, verify_bundle_dir
from edgevision.runtime.backends import release_hook

DEFAULT_ROOT = "~/edgevision"
ROOT_ENV = "EDGEVISION_DEVICE_ROOT"
LOCK_TIMEOUT_S = 60.0
PRIVATE_MODE = 0o700  # incoming/: uploads in flight


def default_root() -> Path:
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT).expanduser()


@dataclass(frozen=True)
class Release:
    name: str
    path: Path
    manifest: Manifest
    verified: Mapping[str, bytes] = field(default_factory=dict, compare=False, repr=False)  # the hashed bytes


@dataclass(frozen=True)
class DeviceStore:
    root: Path

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def incoming(self) -> Path:
        return self.root / "incoming"

    @property
    def service_dir(self) -> Path:
        return self.root / "service"

    @property
    def labels_file(self) -> Path:
        return self.root / "labels.jsonl"

    @property
    def history_file(self) -> Path:
        return self.root / "history.jsonl"

    @property
    def samples_dir(self) -> Path:
        return self.root / "samples"

    @property
    def drift_state(self) -> Path:
        return self.root / "drift.json"

    def baseline(self, release_id: str) -> Path:
        """Where ``device baseline`` keeps the profile recorded for a release (by its id)."""
        return self.root / "baselines" / f"{release_id}.json"

    def ensure(self) -> None:
        """The store's directories, with explicit modes: a service started under ``umask 000`` must not leave
        a world-writable root, releases/ or service/ (where the unit and the state files live)."""
        for d in (self.root, self.releases, self.root / "kit", self.service_dir):
            make_dir(d)
            st = d.stat()
            if stat.S_IMODE(st.st_mode) & 0o022 and st.st_uid == os.geteuid():  # made writable by others before
                os.chmod(d, DIR_MODE)
        make_dir(self.incoming, PRIVATE_MODE)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One deploy, activation or rollback at a time on a device."""
        self.ensure()
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "a+") as fh:
            deadline = time.monotonic() + LOCK_TIMEOUT_S
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise CheckFailed(f"{self.root}: another deploy or rollback holds the lock") from None
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def log(self, event: str, **data: Any) -> None:
        line = json.dumps({"t": round(time.time(), 3), "event": event, **data}, sort_keys=True)
        with open_append(self.history_file) as fh:
            fh.write((line + "\n").encode("utf-8"))

    # -- releases ---------------------------------------------------------------------------------

    def install(self, source: Path, expect_id: str | None = None) -> tuple[Release, bool]:
        """Verify ``source`` (archive or directory) in staging and move it into ``releases/``.

        Returns the release and whether it was new. Nothing outside the staging directory is
        touched until the bundle has passed every check.
        """
        self.ensure()
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.releases))
        try:
            if source.is_dir():
                _copy_plain_files(source, staging)
            else:  # an archive: opened only if it is a regular file (a FIFO would block the open, holding the lock)
                safe_extract(source, staging)
            manifest = verify_bundle_dir(staging, expect_id)
            target = self.releases / manifest.release_name
            if target.exists():
                try:
                    verify_bundle_dir(target, manifest.id)
                    return Release(target.name, target, manifest), False
                except CheckFailed:  # an installed copy went bad at rest: replace it with the verified one
                    shutil.rmtree(target)
            prepare = release_hook(manifest.profile, "prepare_release")
            if prepare is not None:  # a backend's own files are made here (from verified ones), before any switch
                prepare(staging)
            staging.chmod(0o755)
            os.rename(staging, target)
            self.log("install", release=target.name, id=manifest.id)
            return Release(target.name, target, manifest), True
        except CheckFailed as exc:  # name the bundle that was given, not the staging copy being checked
            raise CheckFailed(str(exc).replace(str(staging), str(source))) from None
        except OSError as exc:
            if not disk_full(exc):
                raise
            free = shutil.disk_usage(self.releases).free
            raise BadInput(f"{self.releases}: no space left to unpack {source.name} ({free // 1024} KiB free); "
                           "nothing was replaced, the active model is unchanged — free some space "
                           "(`edgevision device status` lists releases) and retry") from None
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def find(self, name_or_id: str) -> Release:
        """A release by directory name, id, or unique prefix of either; verified before use."""
        names = self.release_names()
        hits = [n for n in names if n == name_or_id or n.rsplit("-", 1)[-1] == name_or_id]
        hits = hits or [n for n in names if n.startswith(name_or_id) or n.rsplit("-", 1)[-1].startswith(name_or_id)]
        if len(hits) != 1:
            raise BadInput(f"release {name_or_id!r} {'is ambiguous' if hits else 'not found'} in {self.releases}"
                           f" (installed: {', '.join(names) or 'none'})")
        path = self.releases / hits[0]
        verified: dict[str, bytes] = {}
        return Release(hits[0], path, verify_bundle_dir(path, verified=verified), verified)

    def release_names(self) -> list[str]:
        """Installed releases: real directories only (a symbolic link in releases/ is not one of ours)."""
        if not self.releases.is_dir():
            return []
        dirs = [p for p in self.releases.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]
        return [p.name for p in sorted(dirs, key=lambda p: p.stat().st_mtime)]

    def link(self, which: str) -> str | None:
        """The release name ``current`` or ``previous`` points at, or None."""
        p = self.root / which
        if not p.is_symlink():
            return None
        target = Path(os.readlink(p))
        return target.name if (self.releases / target.name).is_dir() else None

    def set_links(self, current: str | None, previous: str | None) -> None:
        """Point ``previous`` then ``current`` at releases, each with one atomic rename."""
        for which, name in (("previous", previous), ("current", current)):
            path = self.root / which
            if name is None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            tmp = self.root / f".{which}.{os.getpid()}.tmp"
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.symlink(Path("releases") / name, tmp)
            os.replace(tmp, path)

    def activate(self, release: Release) -> tuple[str | None, str | None]:
        """Make ``release`` current, keeping the old current as previous; return the state before."""
        before = (self.link("current"), self.link("previous"))
        if before[0] != release.name:
            self.set_links(release.name, before[0])
            self.log("activate", release=release.name, previous=before[0])
        return before

    def rollback(self) -> tuple[str, str | None]:
        cur, prev = self.link("current"), self.link("previous")
        if prev is None:
            raise CheckFailed(f"{self.root}: no previous release to roll back to")
        verify_bundle_dir(self.releases / prev)
        self.set_links(prev, cur)
        self.log("rollback", release=prev, previous=cur)
        return prev, cur

    def restore(self, state: tuple[str | None, str | None], reason: str) -> None:
        self.set_links(*state)
        self.log("restore", release=state[0], previous=state[1], reason=reason)

    def prune(self, keep: int) -> list[str]:
        """Delete all but the ``keep`` newest releases that are neither current nor previous."""
        pinned = {self.link("current"), self.link("previous")}
        others = [n for n in self.release_names() if n not in pinned]
        doomed = others[:max(0, len(others) - keep)]
        for n in doomed:
            shutil.rmtree(self.releases / n, ignore_errors=True)
        return doomed


def _copy_plain_files(source: Path, staging: Path) -> None:
    lim = limits()
    entries = []
    for entry in source.iterdir():  # counted while listed: a directory of a million files stops at the cap
        entries.append(entry)
        if len(entries) > lim.bundle_files + 1:
            break
    cap = lim.bundle_bytes
    if len(entries) > lim.bundle_files + 1 or sum(e.lstat().st_size for e in entries) > cap:
        raise CheckFailed(f"{source}: more than {lim.bundle_files + 1} files or {cap / 2**20:.0f} MB; refused "
                          f"({hint('bundle_bytes')})")
    for entry in sorted(entries):
        if entry.is_symlink() or not entry.is_file():
            raise CheckFailed(f"{entry}: only plain files may be in a bundle; nothing was installed")
        try:
            src = open_regular(entry, "bundle file", follow=False)  # checked again on the descriptor: no FIFO
        except BadInput as exc:
            raise CheckFailed(f"{exc}; nothing was installed") from None
        fd = os.open(staging / entry.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        with os.fdopen(fd, "wb") as out, src:
            os.fchmod(out.fileno(), FILE_MODE)
            shutil.copyfileobj(src, out)
