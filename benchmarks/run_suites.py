"""Run the benchmark suites (`make bench`) and write one dated record of this machine's run.

Every suite in benchmarks/suites/ runs in its own process, one after the other, whatever the others did;
its output is shown as it comes and kept. The record, ``benchmarks/results/YYYY-MM-DD-MACHINE.md``
(MACHINE: architecture, CPU model and cores, lib/machine.py), holds the machine's fingerprint, the date,
the commit and each suite's printed ratios; a suite that failed is recorded with its error line, and the
run exits 1 at the end. Another run on the same machine and day replaces that day's record.

    .venv/bin/python benchmarks/run_suites.py [--quick] [--only bench_pipeline,bench_soak] [--model M.tflite]

``--quick`` (or BENCH_QUICK=1) gives every suite small round counts: a smoke test of the suites and of
the record, not a measurement; its record is ``...-quick.md``. ``--only`` or ``--model`` make a partial
run (``...-partial.md``), which never replaces the day's full record.
"""

from __future__ import annotations

import argparse
import ast
import os
import shlex
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.machine import dated_name, load_average, machine_slug
from benchmarks.lib.suite_record import SuiteRun, fingerprint_facts, render, result_cell

REPO = Path(__file__).resolve().parents[1]
SUITES_DIR = REPO / "benchmarks" / "suites"
RESULTS = REPO / "benchmarks" / "results"


@dataclass(frozen=True)
class Suite:
    """A suite and the arguments `make bench` gives it; ``quick``: small round counts for a smoke test."""

    name: str
    args: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()
    takes_model: bool = False   # it accepts --model (an int8 .tflite timed instead of MobileNetV2)
    timeout_s: float = 3600.0
    venv: str = ""              # "convert": run by the bring-your-own-model venv (PyTorch, ONNX converters)


SUITES = (
    Suite("bench_overhead", quick=("--rounds", "1", "--runs", "20"), takes_model=True),
    Suite("bench_edgevision_vs_raw", quick=("--rounds", "1", "--runs", "20"), takes_model=True),
    Suite("bench_int8_vs_float", quick=("--rounds", "1", "--runs", "10")),
    Suite("bench_pipeline", quick=("--rounds", "1", "--frames", "30"), takes_model=True),
    Suite("bench_brought", quick=("--train-per-class", "5")),
    Suite("bench_runtimes", quick=("--rounds", "1", "--runs", "10")),
    Suite("bench_overload", quick=("--seconds", "2"), takes_model=True),
    Suite("bench_soak", args=("--minutes", "1"), quick=("--minutes", "0.1", "--warmup", "2", "--every", "2"),
          takes_model=True),
    Suite("bench_metrics", quick=("--quick",), takes_model=True),
    Suite("bench_drift", quick=("--quick",)),
    Suite("naive_vs_edgevision", quick=("--skip-effnet",), venv="convert", timeout_s=7200.0),
    Suite("conversion_matrix", quick=("--quick",), venv="convert", timeout_s=4 * 3600.0),
)


class UsageError(Exception):
    """A bad command line: one `error:` line, exit 2."""


def about(name: str) -> str:
    """The first line of a suite's docstring: what it compares."""
    try:
        doc = ast.get_docstring(ast.parse((SUITES_DIR / f"{name}.py").read_text(encoding="utf-8")))
    except (OSError, SyntaxError, ValueError):
        doc = None
    return (doc or "").strip().splitlines()[0] if doc else ""


def error_line(returncode: int, stdout: str, stderr_tail: list[str]) -> str:
    """Why a suite failed, in one line: its last `error:` line, else its last line on stderr (a traceback's
    exception), else its last line on stdout that says FAIL or skipped, else its last line."""
    err = [ln.strip() for ln in stderr_tail if ln.strip()]
    out = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
    for candidates in ([ln for ln in err if ln.startswith("error:")], err,
                       [ln for ln in out if "FAIL" in ln], out):
        if candidates:
            return candidates[-1][:300]
    return f"exit status {returncode}, no output"


def _pump(stream, sink, keep: list[str] | deque[str]) -> None:  # type: ignore[no-untyped-def]
    for line in iter(stream.readline, ""):
        sink.write(line)
        sink.flush()
        keep.append(line)
    stream.close()


def _short(arg: str) -> str:
    """A path inside the checkout, relative to it (the record names the checkout's files, not this disk's)."""
    p = Path(arg)
    return str(p.relative_to(REPO)) if p.is_absolute() and p.is_relative_to(REPO) else arg


def python_for(suite: Suite) -> str:
    """The interpreter a suite runs in: this one, or the converters' venv ($EDGEVISION_CONVERT_PYTHON, else
    .venv-convert beside the checkout) for suites that need PyTorch and the ONNX converters."""
    if suite.venv != "convert":
        return sys.executable
    return os.environ.get("EDGEVISION_CONVERT_PYTHON") or str(REPO / ".venv-convert" / "bin" / "python")


def run_suite(suite: Suite, args: list[str]) -> SuiteRun:
    """The suite as `python benchmarks/suites/NAME.py ARGS` from the checkout; stdout and stderr shown live."""
    argv = [python_for(suite), str(SUITES_DIR / f"{suite.name}.py"), *args]
    shown = shlex.join(["python", f"benchmarks/suites/{suite.name}.py", *(_short(a) for a in args)])
    out: list[str] = []
    err: deque[str] = deque(maxlen=40)
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace", env={**os.environ, "PYTHONUNBUFFERED": "1"})
    pumps = [threading.Thread(target=_pump, args=(proc.stdout, sys.stdout, out), daemon=True),
             threading.Thread(target=_pump, args=(proc.stderr, sys.stderr, err), daemon=True)]
    for p in pumps:
        p.start()
    try:
        rc = proc.wait(timeout=suite.timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
        timed_out = True
    for p in pumps:
        p.join(timeout=10)
    stdout = "".join(out)
    if timed_out:
        why = f"timed out after {suite.timeout_s:.0f} s"
    else:
        why = "" if rc == 0 else error_line(rc, stdout, list(err))
    return SuiteRun(suite.name, about(suite.name), shown, rc if not timed_out else -9,
                    time.monotonic() - t0, stdout, why)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=30,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def commit() -> str:
    head = _git("rev-parse", "--short=12", "HEAD")
    if not head:
        return "unknown (not a git checkout)"
    return head + (" with uncommitted changes" if _git("status", "--porcelain", "--untracked-files=no") else "")


def fingerprint() -> dict:
    from edgevision.bench.fingerprint import collect
    from edgevision.runtime.interpreter import interpreter_module

    try:
        _, runtime, version = interpreter_module()
    except Exception:  # noqa: BLE001 - no interpreter installed: the record says so, the suites will fail
        runtime, version = "none", ""
    return collect(runtime, version).to_dict()


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
                    help="small round counts: a smoke test, not a measurement (also BENCH_QUICK=1)")
    ap.add_argument("--only", default="", help="comma-separated suite names (default: all)")
    ap.add_argument("--model", type=Path, default=None,
                    help="an int8 .tflite the suites that take one time instead of MobileNetV2")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where the record goes (default: benchmarks/results)")
    ap.add_argument("--list", action="store_true", help="print the suites and what each compares, run nothing")
    return ap.parse_args(argv)


def select(only: str) -> list[Suite]:
    if not only:
        return list(SUITES)
    names = [n.strip().removesuffix(".py") for n in only.split(",") if n.strip()]
    known = {s.name: s for s in SUITES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown suite {', '.join(unknown)!r} (known: {', '.join(known)})")
    return [known[n] for n in names]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        suites = select(args.only)
        if args.model is not None and not args.model.is_file():
            raise UsageError(f"--model {args.model}: no such file")
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.list:
        for s in SUITES:
            print(f"{s.name:<24} {about(s.name)}")
        return 0
    fp = fingerprint()
    machine = machine_slug(fp["arch"], fp["cpu"], fp["cores"])
    started, load0 = time.gmtime(), load_average()
    runs: list[SuiteRun] = []
    for i, s in enumerate(suites, 1):
        extra = list(s.quick if args.quick else s.args)
        if args.model is not None and s.takes_model:
            extra += ["--model", str(args.model.resolve())]
        print(f"== [{i}/{len(suites)}] {s.name} {shlex.join(extra)}".rstrip(), flush=True)
        runs.append(run_suite(s, extra))
        print(f"== {s.name}: {result_cell(runs[-1])} ({runs[-1].seconds:.0f} s)", flush=True)
    partial = bool(args.only or args.model)
    kind = "-quick" if args.quick else "-partial" if partial else ""
    day = time.strftime("%Y-%m-%d", started)
    path = args.out / dated_name(suffix=f"{kind}.md", day=day, machine=machine)
    facts = [("date", f"{time.strftime('%Y-%m-%d %H:%M', started)}–{time.strftime('%H:%M', time.gmtime())} UTC"),
             ("commit", commit()), ("machine", machine), *fingerprint_facts(fp),
             ("load (1 min)", f"{load0:.2f} at the start, {load_average():.2f} at the end"),
             ("mode", "quick: small round counts, a smoke test and not a measurement" if args.quick else
              "full (the arguments of `make bench`)"),
             ("model", str(args.model) if args.model else "MobileNetV2 built by benchmarks/lib/models.py"),
             ("suites", ", ".join(s.name for s in suites) + ("" if not partial else " (a partial run)"))]
    notes = ("`make bench` (benchmarks/run_suites.py): every suite prints ratios of things it timed in the same "
             "run. What each compares: benchmarks/README.md.")
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(render(f"Benchmark suites on {machine}, {day}", facts, runs, notes), encoding="utf-8")
    failed = [r for r in runs if not r.ok]
    print(f"\nrecord: {path}")
    width = max(len(r.name) for r in runs)
    for r in runs:
        print(f"  {r.name:<{width}}  {result_cell(r)}  ({r.seconds:.0f} s)")
    if failed:
        print(f"error: {len(failed)} of {len(runs)} suites failed: {', '.join(r.name for r in failed)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
