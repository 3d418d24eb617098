"""Recipes, policies and device profiles are found in a checkout and in a wheel install alike."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from edgevision import assets
from edgevision.convert.policy import load_policy
from edgevision.errors import BadInput
from edgevision.profiles import load_profile

REPO = Path(__file__).resolve().parents[1]


def test_installed_copies_are_found_when_there_is_no_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = tmp_path / "venv"
    share = prefix / "share" / "edgevision"
    shutil.copytree(REPO / "device" / "profiles", share / "device" / "profiles")
    shutil.copytree(REPO / "convert", share / "convert")
    monkeypatch.setattr(assets, "_CHECKOUT", tmp_path / "site-packages")  # as in a wheel: no folders beside it
    monkeypatch.setattr(sys, "prefix", str(prefix))
    monkeypatch.chdir(tmp_path)

    assert load_profile("rpi5").name == "rpi5"
    assert load_policy("edgetpu").name == "edgetpu"

    shutil.rmtree(share)
    with pytest.raises(BadInput, match="rpi5"):
        load_profile("rpi5")


def test_the_users_folder_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "device" / "profiles"
    mine.mkdir(parents=True)
    (mine / "rpi5.toml").write_text('name = "rpi5"\ndescription = "my own"\nthreads = 2\n')
    monkeypatch.chdir(tmp_path)
    assert load_profile("rpi5").description == "my own"


def test_the_wheel_carries_the_data_folders(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path), str(REPO)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("edgevision-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = {n.split(".data/data/share/edgevision/", 1)[1] for n in names if ".data/data/share/edgevision/" in n}
    expected = {str(p.relative_to(REPO)) for d in ("train", "convert", "device/profiles", "device/kit")
                for p in (REPO / d).iterdir() if p.is_file()}
    assert expected <= data, sorted(expected - data)
