"""`make bench`'s runner (benchmarks/run_suites.py): every suite runs, one dated record per machine and day.

The runner is run as `make bench` runs it, in its own process, on the committed tiny int8 model
(``--model``, so no TensorFlow model is built) and in quick mode; a model cut short makes real suites
fail, which the record must say while the other suites still run.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.lib.machine import dated_name, machine_slug, slug, this_machine
from benchmarks.lib.suite_record import SuiteRun, render
from benchmarks.run_suites import SUITES, error_line

REPO = Path(__file__).resolve().parents[1]
RUNNER = REPO / "benchmarks" / "run_suites.py"
TINY = REPO / "tests" / "fixtures" / "models" / "tiny_int8.tflite"
NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-([a-z0-9-]+?)(-quick|-partial)?\.md$")


def _run(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUNNER), *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def _facts(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\| ([a-z][a-z ()0-9]*) \| (.*) \|$", text, re.MULTILINE))


def _summary(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\| \[(\w+)\]\(#\w+\) \| (.*?) \| \d+ \|$", text, re.MULTILINE))


def test_quick_run_of_one_suite_writes_one_dated_record_of_this_machine(tmp_path: Path) -> None:
    day = time.strftime("%Y-%m-%d", time.gmtime())
    proc = _run("--quick", "--only", "bench_pipeline", "--model", TINY, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (record,) = tmp_path.iterdir()
    m = NAME.match(record.name)
    assert m and m.group(1) == day and m.group(2) == this_machine() and m.group(3) == "-quick", record.name
    text = record.read_text()
    facts = _facts(text)
    assert facts["machine"] == this_machine() and facts["date"].startswith(day)
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert facts["commit"].split()[0] == (head or "unknown")   # a checkout without git says so
    assert facts["cores"].split()[0].isdigit() and facts["python"] and facts["interpreter"].startswith("ai-edge-litert")
    assert facts["mode"].startswith("quick")
    assert _summary(text) == {"bench_pipeline": "ok"}
    # the suite's own ratio lines, inside a fence, under its heading
    section = text.split("\n## bench_pipeline\n", 1)[1]
    assert "python benchmarks/suites/bench_pipeline.py --rounds 1 --frames 30 --model " \
           "tests/fixtures/models/tiny_int8.tflite" in section
    fenced = section.split("```text\n", 1)[1].split("\n```", 1)[0]
    assert re.search(r"^ratio pipeline FPS / \(1/invoke p50\) = \d+\.\d{4}$", fenced, re.MULTILINE), fenced
    assert f"record: {record}" in proc.stdout


def test_failing_suites_are_recorded_with_their_error_and_the_rest_still_run(tmp_path: Path) -> None:
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(TINY.read_bytes()[:200])  # a model file cut short: every suite that opens it fails
    out = tmp_path / "records"
    proc = _run("--quick", "--only", "bench_edgevision_vs_raw,bench_pipeline", "--model", cut, "--out", out)
    assert proc.returncode == 1
    assert proc.stderr.rstrip().splitlines()[-1] == \
        "error: 2 of 2 suites failed: bench_edgevision_vs_raw, bench_pipeline"
    (record,) = out.iterdir()
    assert record.name.endswith("-quick.md")
    text = record.read_text()
    results = _summary(text)
    assert list(results) == ["bench_edgevision_vs_raw", "bench_pipeline"]   # the second ran after the first failed
    for name, result in results.items():
        assert result.startswith("failed (exit 1): "), (name, result)
        assert len(result) > len("failed (exit 1): ") + 5 and "Traceback" not in result
        assert f"\n## {name}\n" in text


def test_bad_command_lines_are_one_error_line_and_write_nothing(tmp_path: Path) -> None:
    for args, words in ((("--only", "bench_nosuch"), "unknown suite"),
                        (("--model", tmp_path / "missing.tflite"), "no such file")):
        proc = _run(*args, "--out", tmp_path / "records")
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and words in proc.stderr
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "records").exists()


def test_the_runner_runs_every_suite_in_the_suites_folder() -> None:
    files = {p.stem for p in (REPO / "benchmarks" / "suites").glob("*.py") if p.stem != "__init__"}
    assert {s.name for s in SUITES} == files
    for s in SUITES:   # every quick argument is one the suite accepts
        text = (REPO / "benchmarks" / "suites" / f"{s.name}.py").read_text()
        for flag in (a for a in (*s.quick, *s.args) if a.startswith("--")):
            assert f'"{flag}"' in text, (s.name, flag)
        assert ('"--model"' in text) == s.takes_model, s.name


@pytest.mark.parametrize(("arch", "cpu", "cores", "want"), [
    ("x86_64", "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", 2, "x86-64-intel-xeon-platinum-8481c-2c"),
    ("x86_64", "AMD Ryzen 7 5800X 8-Core Processor", 16, "x86-64-amd-ryzen-7-5800x-16c"),
    ("x86_64", "AMD Ryzen 5 PRO 4650U with Radeon Graphics", 12, "x86-64-amd-ryzen-5-pro-4650u-12c"),
    ("aarch64", "ARM Cortex-A76", 4, "aarch64-arm-cortex-a76-4c"),
    ("armv7l", "", 4, "armv7l-unknown-4c"),
    ("x86_64", "../../etc/passwd; rm -rf / `id` $(reboot)", 1, "x86-64-etc-passwd-rm-rf-id-reboot-1c"),
])
def test_machine_slug_names_the_machine_in_file_safe_words(arch: str, cpu: str, cores: int, want: str) -> None:
    assert machine_slug(arch, cpu, cores) == want


def test_record_names_and_fences_stay_inert() -> None:
    assert dated_name("train_memory", ".json", day="2026-12-01", machine="x86-64-amd-epyc-2c") == \
        "2026-12-01-train-memory-x86-64-amd-epyc-2c.json"
    assert slug("x" * 100) == "x" * 40 and slug("///") == "unknown"
    assert this_machine() == this_machine()
    hostile = "ratio = 1.0\n```\n# not a heading\n````\n| a | b |"
    run = SuiteRun("bench_x", "about | it", "python x.py", 1, 1.0, hostile, "boom | `x`\nsecond line")
    text = render("t", [("k", "v|w")], [run])
    fence = text.split("\n## bench_x\n", 1)[1].split("\n", 5)[-1]
    assert fence.startswith("`````text\n") and hostile in fence   # a fence longer than any run of backticks inside
    assert "| [bench_x](#bench_x) | failed (exit 1): boom \\| \\`x\\` second line | 1 |" in text
    assert "| k | v\\|w |" in text
    assert error_line(1, "a\nratio 0.5 FAIL\nlast\n", ["Traceback", "ValueError: bad model"]) == "ValueError: bad model"
    assert error_line(1, "a\nratio 0.5  FAIL\nlast\n", []) == "ratio 0.5  FAIL"
    assert error_line(1, "", ["x", "error: one line", "y"]) == "error: one line"
    assert error_line(3, "", []) == "exit status 3, no output"
