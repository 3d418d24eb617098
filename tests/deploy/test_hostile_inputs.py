"""Hostile and odd inputs on the device side, through the real CLI in the TensorFlow-free venv.

Three classes of failure, one test (or a few) each, every input made byte by byte (tests/hostile_inputs.py):

- memory spent before the check: small files that claim huge sizes (a 15-byte label list, a tar of
  850,000 headers, a zip directory of 1.3 M records, a model of 200,000 tensors, an endless or 4 GB
  MJPEG part, a 256 MB MQTT packet) cost under 100 MB of peak RSS and end in one ``error:`` line (or,
  for a live source or a broker, in a run that keeps going and says why);
- parsers that throw: documents nested thousands deep, 5000-digit integers, wrong types, a torn last
  log line, a 304-character name, a results file that would break ``bench list``: one line, no traceback;
- special files and races: a FIFO as model, source or bundle, a symlinked release directory, files
  written under ``umask 000``, an interpreter named in manager.json.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.hostile_inputs import (
    LABELS_15_BYTES,
    claim_outputs,
    empty_headers_tar,
    forge_bundle,
    imx500_bundle_tar,
    long_name_tar,
    many_tensors_model,
    mjpeg_server,
    mqtt_broker_huge_publish,
    one_error,
    peak_rss,
    runtime_for,
    write_bundle,
)

LIMIT_MB = 100
PROFILE = {"name": "x86-64", "arch": "x86_64"}


def _measure(cli: Cli, tmp_path: Path, *args: str | Path, seconds: float = 60) -> dict:
    result = peak_rss([cli.python, "-m", "edgevision", *map(str, args)], cli.env, tmp_path, term_after=seconds)
    assert not result["terminated"], f"still running after {seconds} s: {result['stderr'][-2000:]}"
    return result


@pytest.fixture()
def frame(tmp_path: Path) -> Path:
    import cv2
    import numpy as np

    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), np.full((48, 48, 3), 127, np.uint8))
    return path


# -- memory spent before the check ---------------------------------------------------------------------


def test_a_label_list_claiming_fifty_million_entries_is_refused_cheaply(cli, models, tmp_path: Path) -> None:
    from edgevision.model.tflite_file import associated_files, embed, metadata_buffers

    bomb = tmp_path / "labels.txt"
    bomb.write_bytes(LABELS_15_BYTES)
    assert len(LABELS_15_BYTES) == 15
    r = _measure(cli, tmp_path, "info", models.int8, "--labels", bomb)
    one_error(r, str(bomb))
    assert r["peak_rss_mb"] < LIMIT_MB, r
    data = models.int8.read_bytes()  # the same fifteen bytes as the model's own associated labels file
    files = associated_files(data)
    name = next(n for n in files if n.endswith(".txt"))
    model = tmp_path / "bomb_inside.tflite"
    model.write_bytes(embed(data, {"TFLITE_METADATA": metadata_buffers(data)["TFLITE_METADATA"]},
                            {**files, name: LABELS_15_BYTES}))
    r = _measure(cli, tmp_path, "info", model)
    one_error(r)
    assert r["peak_rss_mb"] < LIMIT_MB, r
    for labels, model_file in ((None, model), (LABELS_15_BYTES, models.int8)):  # a bundle: either way, refused
        files = {"model.tflite": model_file.read_bytes(), **({"labels.txt": labels} if labels else {})}
        bundle = write_bundle(tmp_path / f"bundle-{bool(labels)}", forge_bundle(
            files, runtime_for("model.tflite", "0", "labels.txt" if labels else None), PROFILE))
        r = _measure(cli, tmp_path, "device", "install", bundle, "--root", tmp_path / "root")
        one_error(r)
        assert r["peak_rss_mb"] < LIMIT_MB, r
    # a model that claims 100 million classes does not lift the bound: the labels limit holds whatever it says
    claims = tmp_path / "claims.tflite"
    claims.write_bytes(claim_outputs(models.int8.read_bytes(), 100_000_000))
    r = _measure(cli, tmp_path, "info", claims, "--labels", bomb)
    one_error(r, "the limit of")
    assert r["peak_rss_mb"] < LIMIT_MB, r


def test_archives_and_zip_directories_are_counted_while_read(cli, tmp_path: Path) -> None:
    for name, path in (("850,000 empty headers", empty_headers_tar(tmp_path / "headers.tar.gz")),
                       ("a 512 MB long name", long_name_tar(tmp_path / "longname.tar.gz")),
                       ("1.3 M zip directory records", imx500_bundle_tar(tmp_path / "packer.tar.gz"))):
        assert path.stat().st_size < 2 << 20, name
        t0 = time.monotonic()
        r = _measure(cli, tmp_path, "device", "install", path, "--root", tmp_path / "root")
        one_error(r)
        assert r["peak_rss_mb"] < LIMIT_MB and time.monotonic() - t0 < 10, (name, r)


def test_a_model_listing_200000_tensors_is_refused_from_its_counts(cli, tmp_path: Path) -> None:
    model = tmp_path / "tensors.tflite"
    model.write_bytes(many_tensors_model(200_000))
    assert model.stat().st_size < 1 << 20
    r = _measure(cli, tmp_path, "info", model)
    one_error(r, "200,000 tensors")
    assert r["peak_rss_mb"] < LIMIT_MB, r
    model.write_bytes(many_tensors_model(40_000, rank=1000))  # within the tensor limit, each of rank 1000
    r = _measure(cli, tmp_path, "info", model)
    one_error(r, "entries")
    assert r["peak_rss_mb"] < LIMIT_MB, r


@pytest.mark.parametrize("kind", ["endless", "huge"])
def test_an_mjpeg_part_is_bounded_in_bytes_and_time(cli, models, tmp_path: Path, kind: str) -> None:
    with mjpeg_server(kind) as camera:
        r = peak_rss([cli.python, "-m", "edgevision", "run", str(models.int8), "--source",
                      f"http://127.0.0.1:{camera.port}/stream.mjpg", "--no-stdout"], cli.env, tmp_path,
                     term_after=12)
    assert r["terminated"] and r["code"] == 0, r  # it keeps reconnecting until stopped, and stops on SIGTERM
    assert "Traceback" not in r["stderr"]
    assert ("ran past" if kind == "endless" else "announces 4,294,967,296 bytes") in r["stderr"], r["stderr"][-2000:]
    assert r["peak_rss_mb"] < LIMIT_MB, r


def test_a_broker_announcing_a_256_mb_packet_costs_nothing(cli, models, frame, tmp_path: Path) -> None:
    with mqtt_broker_huge_publish() as broker:
        r = peak_rss([cli.python, "-m", "edgevision", "run", str(models.int8), "--source", str(frame), "--loop",
                      "--no-stdout", "--quiet", "--mqtt", f"mqtt://127.0.0.1:{broker.port}/t"], cli.env, tmp_path,
                     term_after=8)
    assert r["terminated"] and r["code"] == 0 and "Traceback" not in r["stderr"], r
    assert "268,435,455 bytes" in r["stderr"], r["stderr"][-2000:]
    assert r["peak_rss_mb"] < LIMIT_MB, r


# -- parsers that throw ----------------------------------------------------------------------------------


def _good_bundle(models, tmp_path: Path, **runtime: object) -> dict[str, bytes]:
    return forge_bundle({"model.tflite": models.int8.read_bytes()}, {**runtime_for("model.tflite", "0"), **runtime},
                        PROFILE)


def test_deep_huge_and_mistyped_documents_are_one_line(cli, models, tmp_path: Path) -> None:
    good = _good_bundle(models, tmp_path)
    manifest = json.loads(good["manifest.json"])
    cases = {
        "deep manifest": good | {"manifest.json": json.dumps({**manifest, "model": {}}).encode().replace(
            b'"model": {}', b'"model": ' + b"[" * 5000 + b"]" * 5000)},
        "5000-digit size": good | {"manifest.json": re.sub(rb'"size": \d+', b'"size": ' + b"9" * 5000,
                                                           json.dumps(manifest).encode(), count=1)},
        "wrong type": good | {"manifest.json": json.dumps({**manifest, "files": {"model.tflite": [1, 2]}}).encode()},
        "deep runtime.json": forge_bundle({"model.tflite": models.int8.read_bytes()}, {
            **runtime_for("model.tflite", "0"), "sinks": [[[[["x"]]]]] * 2}, PROFILE),
    }
    for name, files in cases.items():
        bundle = write_bundle(tmp_path / name.replace(" ", "-"), files)
        one_error(cli("device", "install", bundle, "--root", tmp_path / "root", timeout=60), bundle.name)
        one_error(cli("device", "verify", bundle, timeout=60))
    deep = tmp_path / "deep.toml"
    deep.write_text("name = 'x'\nv = " + "[" * 5000 + "]" * 5000 + "\n")
    digits = tmp_path / "digits.toml"
    digits.write_text("name = 'x'\ncores = " + "9" * 5000 + "\n")
    typed = tmp_path / "typed.toml"
    typed.write_text("name = 'x'\ncores = 'many'\n")
    for profile, needle in ((deep, "nested"), (digits, "digits.toml"), (typed, "cores")):
        one_error(cli("bundle", models.int8, "--profile", profile, "--source", "0", "--out", tmp_path / "out",
                       timeout=120), needle)
    one_error(cli("device", "verify", "x" * 304, "--root", tmp_path / "root"))
    one_error(cli("info", tmp_path / ("y" * 304 + ".tflite")))


def test_state_files_and_logs_that_are_damaged_are_said_not_fatal(cli, models, tmp_path: Path) -> None:
    root = tmp_path / "root"
    bundle = write_bundle(tmp_path / "b", _good_bundle(models, tmp_path))
    assert cli("device", "install", bundle, "--root", root).returncode == 0
    history = root / "history.jsonl"
    history.write_bytes(history.read_bytes() + b'{"t": 1700000000.5, "event": "acti')  # a power cut mid-write
    (root / "labels.jsonl").write_bytes(b'{"label": "a", "t_emit": 1.0}\n' + b"[" * 5000 + b"\n")
    out = cli("device", "status", "--root", root, "--json")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    status = json.loads(out.stdout)
    assert [h["event"] for h in status["history"]] == ["install"]
    assert any("history.jsonl" in n and "incomplete" in n for n in status["notes"]), status["notes"]
    assert any("labels.jsonl" in n and "unreadable" in n for n in status["notes"]), status["notes"]
    human = cli("device", "status", "--root", root)
    assert human.returncode == 0 and "incomplete" in human.stdout + human.stderr
    (root / "service").mkdir(exist_ok=True)
    (root / "service" / "manager.json").write_text('{"manager": "supervisor", "scope": "user"}')
    (root / "service" / "state.json").write_text('{"starts": "many", "exits": 5}')
    out = cli("device", "status", "--root", root, "--json")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert "state.json" in json.loads(out.stdout)["service"]["error"]
    assert "starts" in json.loads(out.stdout)["service"]["error"]
    (root / "service" / "manager.json").write_text('{"manager": 5, "scope": "user"}')
    one_error(cli("device", "service", "stop", "--root", root), "manager.json", "$.manager")


def test_a_results_file_that_would_break_bench_list_is_refused_at_import(cli, tmp_path: Path) -> None:
    from tests.bench.docs import make_doc

    store = tmp_path / "store.sqlite"
    env_cli = Cli(cli.python, {**cli.env, "EDGEVISION_BENCH_STORE": str(store)})
    doc = make_doc()
    doc["device"]["name"] = 5
    doc["metrics"]["invoke"]["p90"] = "slow"
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"format": "edgevision-bench", "schema": 1, "results": [doc]}))
    one_error(env_cli("bench", "import", results), "$.device.name")
    listed = env_cli("bench", "list")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    report = env_cli("bench", "report", store, "--out", tmp_path / "report")
    assert "Traceback" not in report.stderr, report.stderr


# -- special files and races -------------------------------------------------------------------------------


def test_fifos_are_refused_without_hanging_and_run_stops_on_sigterm(cli, models, frame, tmp_path: Path) -> None:
    fifos = {}
    for name in ("model.tflite", "source.png", "video.mp4", "bundle.tar.gz", "labels.txt"):
        fifos[name] = tmp_path / name
        os.mkfifo(fifos[name])
    cases = [("info", fifos["model.tflite"]), ("run", fifos["model.tflite"], "--source", frame),
             ("run", models.int8, "--source", fifos["source.png"]),
             ("run", models.int8, "--source", fifos["video.mp4"]),
             ("device", "install", fifos["bundle.tar.gz"], "--root", tmp_path / "root"),
             ("device", "verify", fifos["bundle.tar.gz"]), ("info", models.int8, "--labels", fifos["labels.txt"])]
    for args in cases:
        try:
            one_error(cli(*args, timeout=30), "FIFO")
        except subprocess.TimeoutExpired:
            pytest.fail(f"{args} hung on a FIFO")
    proc = subprocess.Popen([cli.python, "-m", "edgevision", "run", str(models.int8), "--source",
                             str(fifos["video.mp4"])], env=cli.env, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("run ignored SIGTERM while given a FIFO")
    finally:
        proc.communicate()


def test_a_symlinked_release_directory_is_refused(cli, models, tmp_path: Path) -> None:
    root = tmp_path / "root"
    bundle = write_bundle(tmp_path / "b", _good_bundle(models, tmp_path))
    out = cli("device", "install", bundle, "--root", root, "--json")
    assert out.returncode == 0, out.stderr
    name = json.loads(out.stdout)["release"]
    release = root / "releases" / name
    real = tmp_path / "elsewhere"
    release.rename(real)
    release.symlink_to(real, target_is_directory=True)
    for args in (("device", "verify", name), ("device", "activate", name)):
        r = cli(*args, "--root", root)
        assert r.returncode != 0 and "Traceback" not in r.stderr, (args, r.stderr)
    assert not (root / "current").exists()


def test_what_runs_is_the_bytes_that_were_verified(models, tmp_path: Path) -> None:
    from edgevision.model.artifact import ModelArtifact
    from edgevision.releases.operations import check_runs_here
    from edgevision.releases.store import DeviceStore

    store = DeviceStore(tmp_path / "root")
    release, _ = store.install(write_bundle(tmp_path / "b", _good_bundle(models, tmp_path)))
    found = store.find(release.name)
    original = (found.path / "model.tflite").read_bytes()
    (found.path / "model.tflite").write_bytes(b"swapped after verification")  # a swap after the check
    config = check_runs_here(store, found)
    assert isinstance(config.backend.model, ModelArtifact) and config.backend.model.data == original


def test_files_made_under_umask_000_have_explicit_modes_and_manager_json_runs_nothing(
        cli, models, camera, device_python, device_root, tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b", forge_bundle({"model.tflite": models.int8.read_bytes()},
                                                       runtime_for("model.tflite", camera), PROFILE))
    umask = "import os, runpy, sys; os.umask(0); sys.argv[0] = 'edgevision'; runpy.run_module('edgevision', " \
            "run_name='__main__')"
    env = {**cli.env}

    def dev(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([device_python, "-c", umask, *map(str, args)], env=env, capture_output=True,
                              text=True, timeout=180)

    out = dev("device", "install", bundle, "--root", device_root, "--json")
    assert out.returncode == 0, out.stderr
    name = json.loads(out.stdout)["release"]
    out = dev("device", "activate", name, "--root", device_root, "--service", "--manager", "supervisor",
              "--wait", "60")
    assert out.returncode == 0, out.stderr
    service = device_root / "service"
    for path in (device_root, device_root / "releases", service, device_root / "releases" / name):
        assert stat.S_IMODE(path.stat().st_mode) & 0o022 == 0, f"{path} is {oct(path.stat().st_mode)}"
    for path in (service / "edgevision.service", service / "manager.json", service / "state.json",
                 service / "release.json", device_root / "history.jsonl", service / "service.log",
                 device_root / "labels.jsonl"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o022 == 0, f"{path} is {oct(path.stat().st_mode)}"
    assert "python" not in json.loads((service / "manager.json").read_text())
    marker = tmp_path / "executed"
    evil = tmp_path / "evil.sh"
    evil.write_text(f"#!/bin/sh\ntouch '{marker}'\nexec {sys.executable} \"$@\"\n")
    evil.chmod(0o755)
    (service / "manager.json").write_text(json.dumps({"manager": "supervisor", "scope": "user",
                                                      "python": str(evil)}))
    out = dev("device", "service", "restart", "--root", device_root, "--wait", "60")
    assert out.returncode == 0, out.stderr
    assert not marker.exists(), "an interpreter named in manager.json was executed"
    assert str(evil) not in (service / "edgevision.service").read_text()
