"""`edgevision bench` as a user meets it: both spellings, the store, reports across devices, bad input."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from edgevision.bench.result_store import ResultStore, read_results, write_export
from tests.bench.docs import PI4, make_doc
from tests.conftest import REPO, Cli, need


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, (proc.returncode, proc.stdout[-2000:], proc.stderr[-3000:])
    return proc


def _one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_bench_model_and_bench_run_are_the_same_command(cli, bench_models, tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    a = json.loads(_ok(cli("bench", bench_models.int8, "--runs", "15", "--threads", "1", "--store", store,
                           "--json")).stdout)
    b = json.loads(_ok(cli("bench", "run", bench_models.int8, "--runs", "15", "--threads", "1", "--store", store,
                           "--json")).stdout)
    for (doc,) in (a, b):
        assert doc["config"] == {"threads": 1, "delegate": "cpu", "xnnpack": True, "runs": 15, "warmup": 10,
                                 "budget_s": None}
        inv = doc["metrics"]["invoke"]
        assert inv["runs"] == 15 and 0 < inv["p50"] <= inv["p90"] <= inv["p99"]
        assert doc["model"]["macs"] == 286024 and doc["model"]["quantization"] == "int8"
        assert doc["metrics"]["gmacs"] == pytest.approx(286024 / (inv["p50"] * 1e6), rel=0.02)
        assert doc["device"]["runtime"] == "ai-edge-litert" and doc["device"]["cores"] >= 1
        assert doc["device"]["profile"] == "x86-64" or doc["device"]["arch"] != "x86_64"
        assert len(doc["samples_ms"]) == 15
    assert [d["id"] for d in ResultStore.open(store).results()] == [a[0]["id"], b[0]["id"]]
    group_help = _ok(cli("bench", "--help")).stdout
    assert "run" in group_help and "report" in group_help and "import" in group_help
    assert "Examples" in _ok(cli("bench", "run", "--help")).stdout


def test_sweep_pipeline_time_budget_and_out_file(cli, bench_models, tmp_path: Path) -> None:
    out = tmp_path / "here.json"
    args = ["--sweep", "--runs", "10", "--warmup", "2", "--pipeline", "--frames", "8", "--source",
            "synthetic:320x240", "--no-store", "--out", out]
    proc = _ok(cli("bench", bench_models.float32, *args))
    docs = read_results(out)
    configs = {(d["config"]["threads"], d["config"]["xnnpack"]) for d in docs}
    assert {x for _, x in configs} == {True, False} and 1 in {t for t, _ in configs}
    for d in docs:
        pipe = d["pipeline"]
        if d["config"]["xnnpack"]:
            assert pipe["frames"] == 8 and pipe["mode"] == "pulled" and pipe["fps"] > 0 and pipe["dropped"] == 0
            assert set(pipe["stages"]) == {"capture", "preprocess", "infer", "post"}
            assert pipe["latency"]["p50"] >= pipe["stages"]["infer"]["p50"]
        else:
            assert pipe is None  # the Classifier path always runs with XNNPACK
    assert "pipeline FPS" in proc.stdout
    again = _ok(cli("bench", bench_models.float32, "--duration", "0.3", "--threads", "1", "--no-store", "--out", out,
                    "--json"))
    (timed,) = json.loads(again.stdout)
    assert timed["config"]["budget_s"] == 0.3 and timed["metrics"]["invoke"]["runs"] > 10
    assert len(read_results(out)) == len(docs) + 1  # --out merges into an existing results file


def test_paced_pipeline_drops_frames_instead_of_queueing(cli, bench_models) -> None:
    proc = _ok(cli("bench", bench_models.int8, "--runs", "5", "--threads", "1", "--pipeline", "--frames", "10",
                   "--source-fps", "40", "--no-store", "--json"))
    (doc,) = json.loads(proc.stdout)
    pipe = doc["pipeline"]
    assert pipe["mode"] == "paced" and pipe["source_fps"] == 40
    assert pipe["fps"] < 40 * 1.25  # the camera's rate bounds the pipeline, not the model


def test_report_merges_two_devices_into_one_table_and_plot(cli, desktop_cli, bench_models, device_python,
                                                           tmp_path) -> None:
    """Two interpreters on this machine are two "devices": ai-edge-litert ×1 thread, tflite-runtime ×2 threads."""
    other = os.environ.get("EDGEVISION_TFLITE_RUNTIME_PYTHON", "")
    need(bool(other) and Path(other).exists(), "no tflite-runtime virtualenv (make bench-venvs)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = []
    for python, threads, name in ((device_python, "1", "a.json"), (other, "2", "b.json")):
        proc = subprocess.run([python, "-m", "edgevision", "bench", str(bench_models.int8), "--runs", "20",
                               "--threads", threads, "--no-store", "--out", str(tmp_path / name)],
                              capture_output=True, text=True, env=env, timeout=180)
        runs.append(_ok(proc))
    a, b = read_results(tmp_path / "a.json")[0], read_results(tmp_path / "b.json")[0]
    assert a["device"]["runtime"] == "ai-edge-litert" and b["device"]["runtime"] == "tflite-runtime"
    assert a["device"]["id"] != b["device"]["id"] and a["device"]["device_id"] == b["device"]["device_id"]
    rows = json.loads(_ok(cli("bench", "report", tmp_path / "a.json", tmp_path / "b.json", "--json")).stdout)
    assert len(rows) == 2 and len({r["device"] for r in rows}) == 2
    assert {r["config"] for r in rows} == {"cpu xnnpack ×1", "cpu xnnpack ×2"}
    out = tmp_path / "report"
    proc = _ok(desktop_cli("bench", "report", tmp_path / "a.json", tmp_path / "b.json", "--out", out))  # the plot
    assert "ai-edge-litert" in proc.stdout and "tflite-runtime" in proc.stdout
    png, html = out / "bench_report.png", out / "bench_report.html"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    page = html.read_text()
    assert "data:image/png;base64," in page and "tflite-runtime 2.14.0" in page and "ai-edge-litert" in page
    store = tmp_path / "merged.sqlite"
    _ok(cli("bench", "import", tmp_path / "a.json", tmp_path / "b.json", "--store", store))
    _ok(cli("bench", "import", tmp_path / "a.json", "--store", store))  # again: nothing duplicated
    assert len(ResultStore.open(store).results()) == 2
    assert len(json.loads(_ok(cli("bench", "report", "--store", store, "--json")).stdout)) == 2


def test_report_on_a_device_without_matplotlib(device_python: str, tmp_path: Path) -> None:
    results = write_export(tmp_path / "pi4.json", [make_doc(33.0)])
    proc = _ok(subprocess.run([device_python, "-m", "edgevision", "bench", "report", str(results), "--out",
                               str(tmp_path / "r")], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(REPO)}))
    assert "no plot" in proc.stderr and "edgevision[train]" in proc.stderr
    assert (tmp_path / "r" / "bench_report.html").exists() and not (tmp_path / "r" / "bench_report.png").exists()


def test_report_shows_measured_vs_published(cli, tmp_path: Path) -> None:
    results = write_export(tmp_path / "pi4.json", [make_doc(33.0)])  # a Pi 4 result for Coral's test model
    (row,) = json.loads(_ok(cli("bench", "report", results, "--json")).stdout)
    assert row["published ms"] == "22" and row["measured/published"] == "1.50×"
    out = tmp_path / "r"
    _ok(cli("bench", "report", results, "--out", out))
    page = (out / "bench_report.html").read_text()
    assert "Measured vs published" in page and "github.com/Qengineering" in page


def test_report_table_fits_a_narrow_terminal(cli, tmp_path: Path) -> None:
    """On an 80-column terminal the table loses minor columns and abbreviates devices instead of spilling over."""
    pi5 = {**PI4, "name": "garage", "board": "Raspberry Pi 5 Model B Rev 1.0", "cpu": "ARM Cortex-A76",
           "id": "pi5fingerprint01", "device_id": "pi5device0000001", "profile": "rpi5"}
    docs = [make_doc(33.0, model="efficientnet_lite0_int8_2.tflite"), make_doc(14.0, device=pi5),
            make_doc(90.0, quant="float32", model="mobilenet_v2_1.0_224.tflite", threads=1)]
    results = write_export(tmp_path / "two.json", docs)
    narrow = Cli(cli.python, {**cli.env, "COLUMNS": "80"})
    proc = _ok(narrow("bench", "report", results, "--out", tmp_path / "r"))
    table = [ln for ln in proc.stdout.splitlines() if ln[:1] in "┏┃┡│└"]
    assert table and all(len(ln) <= 80 for ln in table) and all(ln.rstrip()[-1] in "┓┃┩│┘" for ln in table)
    assert "efficientnet_lite0_int8_2" in proc.stdout and "mobilenet_v2_1.0_224" in proc.stdout  # names whole
    legend = [ln for ln in proc.stdout.splitlines() if ln.startswith(("D1: ", "D2: "))]
    assert len(legend) == 2 and any("Raspberry Pi 5" in ln or "garage" in ln for ln in legend)
    assert "hidden to fit 80 columns" in " ".join(proc.stderr.split())
    wide = _ok(cli("bench", "report", results, "--out", tmp_path / "r"))  # COLUMNS=200: every column, no legend
    assert "init" in wide.stdout and "D1: " not in wide.stdout and "hidden" not in wide.stderr


def test_newer_schema_and_corrupt_store_are_refused_and_nothing_is_lost(cli, bench_models, tmp_path: Path) -> None:
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"format": "edgevision-bench", "schema": 5, "results": [make_doc()]}))
    _one_line_error(cli("bench", "report", newer), "newer.json", "newer edgevision")
    store = tmp_path / "s.sqlite"
    _ok(cli("bench", "import", write_export(tmp_path / "one.json", [make_doc()]), "--store", store))
    before = store.read_bytes()
    _one_line_error(cli("bench", "import", tmp_path / "one.json", newer, "--store", store), "schema 5")
    assert store.read_bytes() == before
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"SQLite format 3\x00" + os.urandom(3000))
    garbage = corrupt.read_bytes()
    _one_line_error(cli("bench", bench_models.int8, "--runs", "3", "--store", corrupt), "corrupt.sqlite")
    _one_line_error(cli("bench", "report", "--store", corrupt), "corrupt.sqlite")
    assert corrupt.read_bytes() == garbage


def test_model_that_cannot_be_allocated(cli, bench_models, tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    proc = cli("bench", bench_models.int8, bench_models.unknown_op, "--runs", "5", "--threads", "1",
               "--store", store)
    _one_line_error(proc, "tiny_unknown_op.tflite", "cannot load")
    (kept,) = ResultStore.open(store).results()  # the good model's result was stored before the failure
    assert kept["model"]["file"] == "tiny_int8.tflite"
    _one_line_error(cli("bench", bench_models.edgetpu, "--store", store), "tiny_edgetpu.tflite", "Edge TPU")
    _one_line_error(cli("bench", bench_models.int8, "--delegate", "gpu", "--store", store), "--delegate")
    assert len(ResultStore.open(store).results()) == 1
