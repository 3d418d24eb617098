"""The way back from the field: the service keeps frames worth labelling, `device samples pull` brings them over
the real sshd of the deploy tests, a training run folds the labelled folder in; `device baseline` records a
reference profile on the device and the service's drift monitor compares with it."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, Cli
from tests.deploy.conftest import device_cli

CLASSES = {"circle", "cross", "square", "star", "triangle"}


@pytest.fixture(scope="module")
def device_here(device_python: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A TF-free interpreter that runs this checkout's edgevision with the device venv's packages (the device
    venv's own install may be another checkout): a venv whose .pth names the checkout, then the device venv's
    site-packages. It is a real interpreter path, so the service unit it installs runs the same code."""
    info = subprocess.run([device_python, "-c", "import sys; print(sys._base_executable); print('\\n'.join(p for p in "
                           "sys.path if p.endswith(('site-packages', 'dist-packages'))))"],
                          capture_output=True, text=True, check=True, env={"PATH": os.environ.get("PATH", "")})
    base, *sites = info.stdout.split("\n")
    venv = tmp_path_factory.mktemp("device-venv")
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "edgevision-checkout.pth").write_text("\n".join([str(REPO), *filter(None, sites)]) + "\n")
    return str(python)


def _wait(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what} within {timeout} s")


def _kept(root: Path) -> int:
    index = root / "samples" / "samples.jsonl"
    return len(index.read_text().splitlines()) if index.is_file() else 0


@pytest.mark.usefixtures("sshd")
def test_samples_pull_round_trip_then_a_training_run_includes_the_labelled_samples(
        cli, desktop_cli, sshd, models, device_here, device_root, tmp_path) -> None:
    bundle = tmp_path / "b.tar.gz"
    made = cli("bundle", models.int8, "--profile", "x86-64", "--source", models.data / "test", "--loop", "--out",
               bundle, "--sink", "samples-below=1.0", "--sink", "samples-every=0", "--sink", "samples-max=30")
    assert made.returncode == 0, made.stderr
    out = cli("deploy", bundle, *sshd.ssh_args(), "--root", device_root, "--remote-python", device_here, "--service",
              "--manager", "supervisor", "--json", timeout=300)
    assert out.returncode == 0, out.stderr
    _wait(lambda: _kept(device_root) >= 20, 60, "the service kept 20 samples")
    status = json.loads(device_cli(device_here)("device", "status", "--root", device_root, "--json").stdout)
    assert status["samples"]["count"] >= 20 and status["samples"]["reasons"]

    field = tmp_path / "field"
    pulled = cli("device", "samples", "pull", *sshd.ssh_args(), "--out", field, "--root", device_root,
                 "--remote-python", device_here, "--clear", "--json", timeout=120)
    assert pulled.returncode == 0, pulled.stderr
    report = json.loads(pulled.stdout)
    assert report["pulled"] >= 20 and set(report["labels"]) <= CLASSES
    images = sorted(field.glob("*/*.jpg"))
    assert len(images) == report["pulled"] and sum(report["labels"].values()) == len(images)
    with open(field / "scores.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["file"] for r in rows) == sorted(str(p.relative_to(field)) for p in images)
    assert all(r["predicted"] == r["file"].split("/")[0] and 0 <= float(r["score"]) <= 1 for r in rows)
    assert {r["reason"] for r in rows} <= {"low_confidence", "near_tie", "drift"}
    # what was pulled is gone from the device; what the service kept since stays
    left = [json.loads(line) for line in (device_root / "samples" / "samples.jsonl").read_text().splitlines()]
    assert all(e["t"] > report["cleared_upto"] for e in left)

    # Label: one frame was wrong (move it), one is not worth learning from (set aside with a leading _).
    wrong = images[0]
    right = next(c for c in sorted(CLASSES) if c != wrong.parent.name)
    (field / right).mkdir(exist_ok=True)
    shutil.move(wrong, field / right / wrong.name)
    (field / "_junk").mkdir()
    junk = images[1]
    shutil.move(junk, field / "_junk" / junk.name)

    run = tmp_path / "run"
    trained = desktop_cli("train", models.data, "--out", run, "--add", field, "--recipe", "small_cnn", "--size",
                          "32", "--epochs", "1", "--json", timeout=600)
    assert trained.returncode == 0, trained.stderr
    assert f"{len(images) - 1} labelled images added to train" in trained.stderr
    listing = json.loads((run / "dataset.json").read_text())
    train = {Path(p).resolve(): listing["classes"][y] for p, y in listing["train"]}
    assert train[(field / right / wrong.name).resolve()] == right
    for image in images[2:]:
        assert train[image.resolve()] == image.parent.name
    assert (field / "_junk" / junk.name).resolve() not in train
    assert len(train) == len(images) - 1 + sum(1 for _ in (models.data / "train").rglob("*.png"))


def test_training_refuses_a_labelled_folder_with_a_class_it_does_not_know(desktop_cli, models, tmp_path) -> None:
    field = tmp_path / "field"
    (field / "hexagon").mkdir(parents=True)
    shutil.copy(next((models.data / "test" / "star").glob("*.png")), field / "hexagon" / "a.png")
    out = desktop_cli("train", models.data, "--out", tmp_path / "run", "--add", field, "--epochs", "1")
    assert out.returncode == 2 and "'hexagon' is not one of the training classes" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "run").exists()


def test_device_baseline_records_a_profile_the_service_then_watches_against(models, device_here, device_root,
                                                                          tmp_path) -> None:
    from edgevision.deploy.bundle import BundleOptions, make_bundle
    from edgevision.profiles import load_profile

    dev: Cli = device_cli(device_here)
    bundle = tmp_path / "b.tar.gz"
    manifest = make_bundle(models.int8, load_profile("x86-64"), BundleOptions(source=str(models.data / "test"),
                                                                               loop=True), bundle)
    assert dev("device", "install", bundle, "--root", device_root).returncode == 0
    out = dev("device", "activate", manifest.id, "--root", device_root, "--service", "--manager", "supervisor",
              "--python", device_here, "--json")
    assert out.returncode == 0, out.stderr
    status = json.loads(dev("device", "status", "--root", device_root, "--json").stdout)
    assert status["drift"]["state"] is None and status["drift"]["baseline"] is None  # no profile in this model

    out = dev("device", "baseline", "--root", device_root, "--frames", "40", "--json", timeout=180)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    path = device_root / "baselines" / f"{manifest.id}.json"
    assert report["frames"] == 40 and report["profile"] == str(path) and report["service_restarted"]
    assert report["first_label"]["label"] in CLASSES and report["origin"].startswith("device baseline: 40 frames")
    profile = json.loads(path.read_text())
    assert profile["images"] == 40 and set(profile["labels"]) == CLASSES

    def judged() -> dict | None:
        st = json.loads(dev("device", "status", "--root", device_root, "--json").stdout)
        return st["drift"] if st["drift"]["state"] else None

    drift = _wait(judged, 60, "the service's drift monitor gave a verdict")
    assert drift["state"] == "ok" and drift["baseline"] == str(path) and drift["profile"] == "file"
    assert drift["profile_origin"].startswith("device baseline")
    text = dev("device", "status", "--root", device_root)
    assert "drift: ok" in text.stdout and "baseline" in text.stdout

    out = dev("device", "baseline", "--root", device_root, "--clear", "--json", timeout=120)
    assert out.returncode == 0 and json.loads(out.stdout)["removed"] and not path.exists()
