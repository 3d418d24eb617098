"""``edgevision bench``: measure models on this machine; store, export, merge and compare results.

``bench`` is a command group (run, report, export, import, list) whose default command is
``run``: ``edgevision bench MODEL…`` is ``edgevision bench run MODEL…``. A model file that
shares a subcommand's name can be given as ``./report`` or through ``bench run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgevision.cli import bench_results_cmd
from edgevision.cli.arguments import Commands, argument, option
from edgevision.cli.common import err_console, handle_errors, out_console, print_json
from edgevision.cli.tables import Layout, print_fitted
from edgevision.console import inert, inert_markup
from edgevision.errors import BadInput
from edgevision.runtime.backends import examples, models_help

# On a narrow terminal (an SSH session on a Pi) the result table keeps model, config, p50, FPS and the pipeline.
BENCH_LAYOUT = Layout(drop=("std ms", "mean ms", "init ms", "RSS +MB", "size KiB", "p90 ms", "GMAC/s", "runs",
                            "glass→label p50 ms", "p99 ms"), wrapping=("config",), whole="model")

_EXAMPLES = """Examples:

  edgevision bench model_int8.tflite

  edgevision bench model_int8.tflite model_float32.tflite --threads 1 --threads 4 --json

  edgevision bench model_int8.tflite --sweep                    # threads 1,2,4…cores × XNNPACK on/off (+ Edge TPU)

  edgevision bench model_int8.tflite --delegate cpu-noxnnpack --duration 10

  edgevision bench model_edgetpu.tflite --delegate edgetpu:usb --device-name pi4-kitchen --out pi4.json

  edgevision bench model_int8.tflite --pipeline --source synthetic:640x480 --source-fps 30
"""
_STORE = """Every result is added to the local result store (--store, default $EDGEVISION_BENCH_STORE or
~/.local/share/edgevision/bench.sqlite); --out also writes (or merges into) a results file to carry
to another machine. Compare with: edgevision bench report FILE…"""
RUN_EPILOG = "\n".join([_EXAMPLES, *(f"  {line}\n" for line in examples("bench")), _STORE])


def register(commands: Commands) -> None:
    bench = commands.group("bench", "Latency on this machine, comparable across machines. "
                                    "`edgevision bench MODEL…` runs `bench run`.", default="run",
                           epilog="Examples:\n\n  edgevision bench model_int8.tflite\n\n"
                                  "  edgevision bench report pi4.json pi5.json --out bench-report\n\n"
                                  "  edgevision bench run --help   (every option of a measurement)")
    p = bench.add("run", run, epilog=RUN_EPILOG)
    argument(p, "models", nargs="+", metavar="MODEL", help="One or more models: " + models_help())
    option(p, "--runs", kind=int, min=1, help="Timed invoke() calls per configuration [default: 100, or unlimited "
                                              "within --duration].")
    option(p, "--duration", kind=float, min=0.01, help="Time budget per configuration, s.")
    option(p, "--warmup", kind=int, default=10, min=0, help="Untimed calls first.")
    option(p, "--threads", kind=int, many=True, min=1, help="Thread counts to sweep (repeat).")
    option(p, "--delegate", many=True, help="cpu (XNNPACK), cpu-noxnnpack, edgetpu[:usb[:N]|:pci[:N]] or auto "
                                            "(repeat to sweep).")
    option(p, "--sweep", kind=bool, default=False, help="Threads 1,2,4…cores × XNNPACK on/off, and the Edge TPU "
                                                        "when one is attached and the model is compiled for it.")
    option(p, "--pipeline", kind=bool, default=False, help="Also run the whole source → label pipeline.")
    option(p, "--source", default="synthetic", help="Pipeline source: synthetic[:WxH], a video, a folder, a camera "
                                                    "index or a URL.")
    option(p, "--source-fps", kind=float, default=0.0, min=0, help="Pace the source like a camera at this rate "
           "(frames are dropped when the model is slower); 0 = as fast as possible.")
    option(p, "--frames", kind=int, default=100, min=2, help="Pipeline frames measured (after 5 warm-up frames).")
    option(p, "--labels", kind=Path, help="Labels file for models without one.")
    option(p, "--device-name", help="Name for this device in reports [default: the hostname].")
    option(p, "--store", kind=Path, help="Result store (SQLite) to add results to.")
    option(p, "--no-store", kind=bool, default=False, help="Do not add the results to the store.")
    option(p, "--out", kind=Path, help="Also write the results to this file (merged into it when it exists).")
    option(p, "--json", kind=bool, default=False, dest="json_out", help="Print the result documents as JSON.")
    bench_results_cmd.register(bench)


@handle_errors
def run(*, models: list[Path], runs: int | None, duration: float | None, warmup: int, threads: list[int] | None,
        delegate: list[str] | None, sweep: bool, pipeline: bool, source: str, source_fps: float, frames: int,
        labels: Path | None, device_name: str | None, store: Path | None, no_store: bool, out: Path | None,
        json_out: bool) -> None:
    """Measure latency after warm-up: p50/p90/p99, mean, std, FPS, GMAC/s, init time, RSS; store the results."""
    from edgevision.bench.pipeline_bench import PipelineSpec
    from edgevision.bench.result_store import ResultStore, default_store, read_results, write_export
    from edgevision.bench.sweep import BenchOptions, parse_delegate, plan, run_config
    from edgevision.runtime.backends import with_hook

    for d in delegate or []:
        if d != "auto":
            parse_delegate(d)  # a typo fails before anything runs
    result_store = None if no_store else ResultStore.open(store or default_store())
    previous = read_results(out) if out is not None and out.exists() else []
    opts = BenchOptions(runs=runs or (1_000_000 if duration else 100), warmup=warmup, budget_s=duration,
                        labels=labels, device_name=device_name, threads=tuple(threads or ()),
                        delegates=tuple(delegate or ()), sweep=sweep,
                        pipeline=PipelineSpec(source=source, frames=frames, fps=source_fps) if pipeline else None)
    docs: list[dict[str, Any]] = []
    failures: list[str] = []
    notes: list[str] = []
    planned = []
    own = {m: with_hook(m, source, "bench") for m in models}  # a backend that measures itself (on a sensor)
    for model in [m for m in models if own[m] is not None]:
        try:
            docs.append(own[model](model, source, frames, warmup, labels, device_name))
            if result_store is not None:
                result_store.add([docs[-1]])
        except BadInput as exc:
            failures.append(str(exc))
    for model in [m for m in models if own[m] is None]:
        try:
            configs, why = plan(model, opts)
        except BadInput as exc:
            failures.append(str(exc))
            continue
        notes += why
        planned += [(model, c) for c in configs]
    con = err_console()
    with _progress(con) as progress:
        task = progress.add_task("benchmarking", total=len(planned))
        for model, config in planned:
            progress.update(task, description=f"{inert_markup(model.name)} · threads {config.threads or 'default'} · "
                                              f"{config.delegate}{'' if config.xnnpack else ' no-XNNPACK'}")
            try:
                doc = run_config(model, config, opts)
            except BadInput as exc:
                failures.append(str(exc))
                progress.advance(task)
                continue
            docs.append(doc)
            if result_store is not None:
                try:
                    result_store.add([doc])  # stored as soon as measured: a later failure loses nothing
                except BadInput as exc:  # a full disk: keep measuring, print everything, then say so
                    failures.append(f"{exc}; the results are printed above")
                    result_store = None
            progress.advance(task)
    if out is not None and docs:
        from edgevision.bench.result_store import merge

        try:
            write_export(out, merge(previous, docs))
        except BadInput as exc:
            failures.append(f"{exc}; the results are printed above")
            out = None
    _report(docs, notes, json_out, result_store, out)
    if failures:
        unique = list(dict.fromkeys(failures))
        raise BadInput(unique[0] if len(unique) == 1 else f"{len(unique)} models failed: " + "; ".join(unique))


def _progress(con: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=con, transient=True)


def _report(docs: list[dict[str, Any]], notes: list[str], json_out: bool, store: Any, out: Path | None) -> None:
    from edgevision.bench import sanity
    from edgevision.bench.record import config_label, is_on_sensor

    con = err_console()
    every, sensor = docs, [d for d in docs if is_on_sensor(d)]
    docs = [d for d in docs if not is_on_sensor(d)]  # the invoke() table: CPU and Edge TPU only
    if json_out:
        print_json(every)
    elif sensor:
        _sensor_table(sensor)
    if not json_out and docs:
        header = ("model", "config", "runs", "p50 ms", "p90 ms", "p99 ms", "mean ms", "std ms", "FPS", "GMAC/s",
                  "init ms", "RSS +MB", "size KiB")
        has_pipe = any(d.get("pipeline") for d in docs)
        if has_pipe:
            header += ("pipeline FPS", "glass→label p50 ms")
        rows = []
        for d in docs:
            s, m = d["metrics"]["invoke"], d["metrics"]
            row = (d["model"]["file"], config_label(d["config"]), str(s["runs"]), f"{s['p50']:.3f}",
                   f"{s['p90']:.3f}", f"{s['p99']:.3f}", f"{s['mean']:.3f}", f"{s['std']:.3f}", f"{m['fps']:.1f}",
                   f"{m['gmacs']:.2f}" if m.get("gmacs") else "", f"{m['init_ms']:.1f}", f"{m['rss_delta_mb']:.1f}",
                   f"{d['model']['size_bytes'] / 1024:.1f}")
            if has_pipe:
                p = d.get("pipeline") or {}
                row += (f"{p['fps']:.1f}" if p.get("fps") else "",
                        f"{p['latency']['p50']:.2f}" if p.get("latency") else "")
            rows.append(row)
        print_fitted(out_console(), con, header, rows, BENCH_LAYOUT, title="invoke() latency on this machine")
    docs = every
    for d in docs:
        for f in d.get("flags", []):
            con.print(f"[yellow]{inert_markup(f['level'])}[/]: " + inert_markup(
                f"{d['model']['file']} ({config_label(d['config'])}): {f['message']}"))
    for i8, f in sanity.int8_slower(docs):
        con.print("[yellow]warn[/]: " + inert_markup(
            f"int8 is slower than float on this device ({config_label(i8['config'])}): {i8['model']['file']} "
            f"{i8['metrics']['invoke']['p50']:.3g} ms vs {f['model']['file']} {f['metrics']['invoke']['p50']:.3g} ms; "
            "keep the float model here or check the int8 kernels"))
    for note in notes:
        con.print(inert(f"note: {note}"), markup=False)
    if store is not None and docs:
        con.print(inert(f"stored {len(docs)} result{'s' if len(docs) != 1 else ''} in {store.path}"), markup=False)
    if out is not None and docs:
        con.print(inert(f"wrote {out}"), markup=False)


SENSOR_NOTE = ("as the sensor reports it with each frame (DNN and DSP runtime); not comparable with invoke() "
               "latency on a CPU or Edge TPU, which times a host interpreter on a ready tensor")


def _sensor_table(docs: list[dict[str, Any]]) -> None:
    from rich.table import Table

    t = Table("network", "frames", "sensor DNN p50 ms", "p90 ms", "DSP p50 ms", "host parse p50 ms", "frames/s",
              title="on-sensor inference (Raspberry Pi AI Camera)", caption=SENSOR_NOTE)
    for d in docs:
        m = d["metrics"]
        t.add_row(inert_markup(d["model"]["file"]), str(m["frames"]), f"{m['invoke']['p50']:.3f}",
                  f"{m['invoke']['p90']:.3f}",
                  f"{m['dsp']['p50']:.3f}" if m.get("dsp") else "", f"{m['host_parse']['p50']:.3f}",
                  f"{m['fps']:.1f}" if m.get("fps") else "")
    out_console().print(t)
