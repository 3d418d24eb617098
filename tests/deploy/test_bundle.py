"""Bundles: what goes in, what the manifest proves, and what verification refuses."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest

from edgevision.deploy.bundle import BundleOptions, make_bundle, read_manifest
from edgevision.errors import BadInput, CheckFailed
from edgevision.profiles import load_profile
from edgevision.releases.archive import pack
from edgevision.releases.manifest import MANIFEST, RUNTIME, Manifest, sha256_bytes, verify_bundle_dir
from edgevision.releases.runtime_config import RuntimeConfig, Sink
from tests.fixtures.tflite_edit import with_custom_op


def _one_line_error(proc, code: int, *needles: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_bundle_archive_holds_data_only_and_a_true_manifest(cli, models, tmp_path: Path) -> None:
    out = tmp_path / "b.tar.gz"
    made = cli("bundle", models.int8, "--profile", "rpi5", "--out", out, "--json")
    assert made.returncode == 0, made.stderr
    claimed = json.loads(made.stdout)
    with tarfile.open(out) as tf:
        members = tf.getmembers()
        names = sorted(m.name for m in members)
        assert names == sorted([MANIFEST, RUNTIME, models.int8.name])
        assert all(m.isfile() and not m.mode & 0o111 and m.uid == 0 for m in members)
        contents = {m.name: tf.extractfile(m).read() for m in members}
    manifest = Manifest.from_json(contents[MANIFEST], "m")
    assert manifest.id == claimed["id"] and manifest.edgevision == claimed["edgevision"]
    assert set(manifest.files) == {RUNTIME, models.int8.name}
    for name, entry in manifest.files.items():
        assert entry == {"sha256": sha256_bytes(contents[name]), "size": len(contents[name])}
    assert contents[models.int8.name] == models.int8.read_bytes()
    rt = RuntimeConfig.from_dict(json.loads(contents[RUNTIME]))
    assert rt == manifest.runtime
    rpi5 = load_profile("rpi5")
    assert (rt.source, rt.threads, rt.delegate) == (rpi5.source, rpi5.threads, "cpu")
    assert manifest.profile["name"] == "rpi5" and manifest.profile["service"]["supplementary_groups"] == ["video"]
    assert manifest.model["labels"] == 5 and manifest.model["edgetpu_compiled"] is False
    assert read_manifest(out) == manifest
    # The id is a function of the content: bundling the same thing again gives the same id.
    again = cli("bundle", models.int8, "--profile", "rpi5", "--out", tmp_path / "again", "--json")
    assert json.loads(again.stdout)["id"] == manifest.id
    other = cli("bundle", models.int8, "--profile", "rpi5", "--top-k", "1", "--out", tmp_path / "o", "--json")
    assert json.loads(other.stdout)["id"] != manifest.id


def test_pack_is_reproducible(models, tmp_path: Path) -> None:
    d = tmp_path / "d"
    make_bundle(models.int8, load_profile("x86-64"), BundleOptions(source="0"), d)
    a, b = pack(d, tmp_path / "a.tar.gz"), pack(d, tmp_path / "b.tar.gz")
    assert a.read_bytes() == b.read_bytes()
    assert verify_bundle_dir(d).id == read_manifest(a).id


def test_overrides_labels_file_and_sinks(models, tmp_path: Path) -> None:
    labels = tmp_path / "names.txt"
    labels.write_text("o\nx\n[]\n*\n^\n")
    m = make_bundle(models.int8, load_profile("x86-64"), BundleOptions(
        source="http://cam.local/stream.mjpg", threads=2, top_k=2, threshold=0.25, smooth=3, loop=False,
        labels=labels, sinks=(Sink.parse("mqtt=mqtt://broker.local/cam1"), Sink.parse("web=8080"))), tmp_path / "b")
    assert (tmp_path / "b" / "labels.txt").read_text().splitlines() == ["o", "x", "[]", "*", "^"]
    cfg = m.runtime.run_config(Path("/r/releases/x"), Path("/r/labels.jsonl"))
    assert cfg.backend.model == Path(f"/r/releases/x/{models.int8.name}")
    assert (cfg.source.spec, cfg.backend.threads, cfg.backend.top_k, cfg.backend.threshold, cfg.pipeline.smooth) == \
        ("http://cam.local/stream.mjpg", 2, 2, 0.25, 3)
    assert cfg.backend.labels == Path("/r/releases/x/labels.txt") and cfg.quiet
    sinks = {s.kind: s for s in cfg.outputs.sinks}
    assert sinks["mqtt"].value("mqtt") == "mqtt://broker.local/cam1" and sinks["web"].value("web") == 8080
    assert sinks["file"].value("out") == Path("/r/labels.jsonl")
    assert cfg.backend.delegate is None and not cfg.source.loop


@pytest.mark.parametrize("spec", ["out=/etc/passwd", "source=0", "Bad Kind", "mqtt=", "-x"])
def test_sinks_cannot_override_what_the_service_sets(spec: str) -> None:
    with pytest.raises(BadInput):
        Sink.parse(spec)


def test_coral_profiles_need_an_edgetpu_compiled_model(cli, models, tmp_path: Path) -> None:
    _one_line_error(cli("bundle", models.int8, "--profile", "coral-usb", "--out", tmp_path / "c.tar.gz"), 2,
                    "not compiled for the Edge TPU", "edgetpu_compiler")
    assert not (tmp_path / "c.tar.gz").exists()
    # A thin stand-in for edgetpu_compiler's output (the real compiler cannot run here): the model with an
    # operator whose code is the compiler's custom op, which is how edgevision recognises compiled models.
    fake = tmp_path / "shapes_edgetpu.tflite"
    fake.write_bytes(with_custom_op(models.int8.read_bytes(), "edgetpu-custom-op"))
    made = cli("bundle", fake, "--profile", "coral-usb", "--out", tmp_path / "c.tar.gz", "--json")
    assert made.returncode == 0, made.stderr
    m = json.loads(made.stdout)
    assert m["runtime"]["delegate"] == "edgetpu:usb" and m["model"]["edgetpu_compiled"] is True
    _one_line_error(cli("bundle", fake, "--profile", "rpi5", "--out", tmp_path / "r.tar.gz"), 2,
                    "compiled for the Edge TPU")
    _one_line_error(cli("bundle", models.int8, "--profile", "rpi5", "--delegate", "edgetpu", "--out",
                        tmp_path / "r.tar.gz"), 2, "not compiled")


def test_bad_inputs_are_one_line_errors(cli, models, tmp_path: Path) -> None:
    _one_line_error(cli("bundle", models.int8, "--profile", "nosuchboard"), 2, "nosuchboard")
    _one_line_error(cli("bundle", tmp_path / "missing.tflite", "--profile", "rpi5"), 2, "not found")
    notmodel = tmp_path / "x.tflite"
    notmodel.write_text("hello")
    _one_line_error(cli("bundle", notmodel, "--profile", "rpi5"), 2, "not a TFLite model")
    (tmp_path / "exists").mkdir()
    (tmp_path / "exists" / "f").write_text("x")
    _one_line_error(cli("bundle", models.int8, "--profile", "rpi5", "--out", tmp_path / "exists"), 2, "--force")
    _one_line_error(cli("bundle", models.int8, "--profile", "rpi5", "--sink", "out=/tmp/x"), 2, "--sink")
    _one_line_error(cli("bundle", models.int8, "--profile", "rpi5", "--source", "--x"), 2, "source")


@pytest.fixture()
def bundle_dir(models, tmp_path: Path) -> Path:
    d = tmp_path / "bundle"
    make_bundle(models.int8, load_profile("x86-64"), BundleOptions(source="0"), d)
    return d


def _manifest(d: Path) -> dict:
    return json.loads((d / MANIFEST).read_text())


def _rewrite_manifest(d: Path, data: dict) -> None:
    (d / MANIFEST).write_text(json.dumps(data))


TAMPERING = {
    "model byte flipped": lambda d, m: (d / m["runtime"]["model"]).write_bytes(
        bytes([(d / m["runtime"]["model"]).read_bytes()[0] ^ 1]) + (d / m["runtime"]["model"]).read_bytes()[1:]),
    "extra file": lambda d, m: (d / "extra.txt").write_text("x"),
    "missing file": lambda d, m: (d / RUNTIME).unlink(),
    "symlink added": lambda d, m: os.symlink("/etc/passwd", d / "passwd.txt"),
    "sub-directory": lambda d, m: (d / "sub").mkdir(),
    "runtime edited with its hash": lambda d, m: (
        (d / RUNTIME).write_text(json.dumps({**m["runtime"], "source": "1"})),
        _rewrite_manifest(d, {**m, "files": {**m["files"], RUNTIME: {
            "sha256": sha256_bytes((d / RUNTIME).read_bytes()), "size": (d / RUNTIME).stat().st_size}}})),
    "id edited": lambda d, m: _rewrite_manifest(d, {**m, "id": "0" * 16}),
    "executable listed": lambda d, m: _rewrite_manifest(
        d, {**m, "files": {**m["files"], "run.sh": m["files"][RUNTIME]}}),
    "future format": lambda d, m: _rewrite_manifest(d, {**m, "format": "edgevision-bundle/99"}),
    "not json": lambda d, m: (d / MANIFEST).write_text("{"),
}


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_verification_refuses_any_change(bundle_dir: Path, how: str) -> None:
    assert verify_bundle_dir(bundle_dir).id == _manifest(bundle_dir)["id"]
    TAMPERING[how](bundle_dir, _manifest(bundle_dir))
    with pytest.raises(CheckFailed):
        verify_bundle_dir(bundle_dir)


def test_device_verify_command(models, bundle_dir: Path, device_python: str, tmp_path: Path) -> None:
    from tests.deploy.conftest import device_cli

    dev = device_cli(device_python)
    ok = dev("device", "verify", bundle_dir)
    assert ok.returncode == 0 and "matches its manifest" in ok.stdout, ok.stderr
    archive = pack(bundle_dir, tmp_path / "b.tar.gz")
    assert dev("device", "verify", archive, "--json").returncode == 0
    model = bundle_dir / models.int8.name
    model.write_bytes(model.read_bytes()[:-1] + b"!")
    _one_line_error(dev("device", "verify", bundle_dir), 1, models.int8.name, "sha256")
