"""The release store on the device: install, atomic switch, rollback, restore, prune, lock."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from edgevision.deploy.bundle import BundleOptions, make_bundle
from edgevision.errors import BadInput, CheckFailed
from edgevision.profiles import load_profile
from edgevision.releases import store as store_mod
from edgevision.releases.store import DeviceStore


@pytest.fixture()
def bundles(models, tmp_path: Path) -> list[Path]:
    """Four different bundles (same model, different top-k: different ids)."""
    out = []
    for k in range(1, 5):
        path = tmp_path / f"b{k}.tar.gz"
        make_bundle(models.int8, load_profile("x86-64"), BundleOptions(source="0", top_k=k), path)
        out.append(path)
    return out


def test_install_activate_rollback_restore(bundles: list[Path], tmp_path: Path) -> None:
    store = DeviceStore(tmp_path / "root")
    r1, new = store.install(bundles[0])
    assert new and r1.path.is_dir() and store.link("current") is None
    assert store.install(bundles[0])[1] is False, "the same bundle installs once"
    assert store.activate(r1) == (None, None)
    assert (store.link("current"), store.link("previous")) == (r1.name, None)
    assert os.readlink(store.root / "current") == f"releases/{r1.name}", "relative: the root may move"
    r2, _ = store.install(bundles[1])
    before = store.activate(r2)
    assert before == (r1.name, None)
    assert (store.link("current"), store.link("previous")) == (r2.name, r1.name)
    assert store.rollback() == (r1.name, r2.name)
    assert (store.link("current"), store.link("previous")) == (r1.name, r2.name)
    store.restore(before, "test")
    assert (store.link("current"), store.link("previous")) == (r1.name, None)
    events = [line.split('"event": "')[1].split('"')[0] for line in store.history_file.read_text().splitlines()]
    assert events == ["install", "activate", "install", "activate", "rollback", "restore"]
    assert store.find(r2.manifest.id[:6]).name == r2.name
    with pytest.raises(BadInput, match="not found"):
        store.find("nope")
    assert not [p for p in store.releases.iterdir() if p.name.startswith(".")], "no staging left behind"


def test_a_release_altered_at_rest_is_not_activated(bundles: list[Path], tmp_path: Path, models) -> None:
    store = DeviceStore(tmp_path / "root")
    r1, _ = store.install(bundles[0])
    store.activate(r1)
    r2, _ = store.install(bundles[1])
    model = r2.path / models.int8.name
    model.write_bytes(model.read_bytes() + b"x")
    with pytest.raises(CheckFailed, match="sha256"):
        store.activate(store.find(r2.name))
    assert store.link("current") == r1.name
    again, new = store.install(bundles[1])  # re-sending the bundle repairs it
    assert new and again.name == r2.name and store.find(r2.name)


def test_no_previous_to_roll_back_to(bundles: list[Path], tmp_path: Path) -> None:
    store = DeviceStore(tmp_path / "root")
    store.activate(store.install(bundles[0])[0])
    with pytest.raises(CheckFailed, match="no previous"):
        store.rollback()


def test_prune_keeps_current_previous_and_the_newest(bundles: list[Path], tmp_path: Path) -> None:
    store = DeviceStore(tmp_path / "root")
    releases = []
    for i, b in enumerate(bundles):
        r, _ = store.install(b)
        os.utime(r.path, (1000 + i, 1000 + i))
        releases.append(r)
    store.activate(releases[0])
    store.activate(releases[1])
    assert store.prune(keep=1) == [releases[2].name]
    assert set(store.release_names()) == {releases[0].name, releases[1].name, releases[3].name}


def test_lock_serialises_deploys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = DeviceStore(tmp_path / "root")
    monkeypatch.setattr(store_mod, "LOCK_TIMEOUT_S", 0.3)
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with store.lock():
            held.set()
            release.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(5)
    try:
        with pytest.raises(CheckFailed, match="lock"), store.lock():
            pass
    finally:
        release.set()
        t.join()
    with store.lock():
        pass
