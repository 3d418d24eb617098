"""``edgevision bench report|export|import|list``: results from many machines, compared in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgevision.cli.arguments import CliParser, Commands, argument, option
from edgevision.cli.common import err_console, handle_errors, out_console, print_json
from edgevision.cli.tables import Layout, print_fitted
from edgevision.console import inert, inert_markup
from edgevision.errors import BadInput, MissingDependency

# On a narrow terminal the comparison loses these first; the HTML page and --json keep every column.
REPORT_LAYOUT = Layout(drop=("init ms", "p90 ms", "size KiB", "n", "GMAC/s", "device", "glass→label p50 ms", "p99 ms",
                             "FPS", "pipeline FPS", "quant"),
                       wrapping=("device", "config", "flags"), whole="model", abbreviate="device")

REPORT_EPILOG = """Examples:

  edgevision bench report                                   # everything in the local store

  edgevision bench report pi4.json pi5.json laptop.sqlite --out bench-report

  edgevision bench report pi4.json --json

Writes OUT/bench_report.png and OUT/bench_report.html (self-contained: the plot is inlined).
Where a well-known model runs on a known board, the published figure from the device profiles
is shown beside the measured one."""


SENSOR_LAYOUT = Layout(drop=("capture→label p50 ms", "n", "device", "sensor DNN p90 ms", "frames", "DSP p50 ms"),
                       wrapping=("device",), whole="model", abbreviate="device")

STORE_HELP = "Result store [default: $EDGEVISION_BENCH_STORE or ~/.local/share/edgevision/bench.sqlite]."


def register(bench: Commands) -> None:
    p = bench.add("report", report, epilog=REPORT_EPILOG)
    argument(p, "results", nargs="*", help="Results files (.json) or stores (.sqlite); none: the local store.")
    option(p, "--store", kind=Path, help=STORE_HELP)
    option(p, "--out", kind=Path, default=Path("bench-report"), help="Folder for the PNG and HTML.")
    _filters(p)
    option(p, "--json", kind=bool, default=False, dest="json_out", help="Print the comparison rows as JSON (no "
                                                                        "files).")

    p = bench.add("export", export, epilog="Examples:\n\n  edgevision bench export pi4.json\n\n"
                                           "  edgevision bench export mnv2.json --model mobilenet_v2")
    argument(p, "path", help="Results file to write (JSON).")
    option(p, "--store", kind=Path, help=STORE_HELP)
    _filters(p)

    p = bench.add("import", import_, epilog="Examples:\n\n  edgevision bench import pi4.json pi5.json")
    argument(p, "files", nargs="+", metavar="FILE", help="Results files (.json) or stores (.sqlite) to merge in.")
    option(p, "--store", kind=Path, help=STORE_HELP)

    p = bench.add("list", list_, epilog="Examples:\n\n  edgevision bench list --model mobilenet")
    option(p, "--store", kind=Path, help=STORE_HELP)
    _filters(p)
    option(p, "--json", kind=bool, default=False, dest="json_out", help="Print the result documents as JSON.")


def _filters(p: CliParser) -> None:
    option(p, "--model", help="Only models whose name contains this.")
    option(p, "--device", help="Only devices whose label contains this.")


def _load(results: list[Path], store: Path | None) -> list[dict[str, Any]]:
    from edgevision.bench.result_store import ResultStore, default_store, merge, read_results

    if results:
        return merge(*(read_results(p) for p in results))
    return ResultStore.open(store or default_store()).results()


def _select(docs: list[dict[str, Any]], model: str | None, device: str | None) -> list[dict[str, Any]]:
    from edgevision.bench.record import device_label

    if model:
        docs = [d for d in docs if model.lower() in str(d["model"].get("name", "")).lower()]
    if device:
        docs = [d for d in docs if device.lower() in device_label(d).lower()]
    return docs


@handle_errors
def report(*, results: list[Path] | None, store: Path | None, out: Path, model: str | None, device: str | None,
           json_out: bool) -> None:
    """One comparison table and plot across devices and models (measured vs published where known)."""
    from edgevision.bench.comparison import HEADER, SENSOR_HEADER, SENSOR_NOTE, compare, prune, sensor_rows, table_rows
    from edgevision.bench.published import load_references
    from edgevision.bench.render import plot, write_html

    docs = _select(_load(results or [], store), model, device)
    if not docs:
        raise BadInput("no benchmark results to report" + (" (check --model/--device)" if model or device else
                                                           "; run `edgevision bench MODEL` first"))
    comp = compare(docs, load_references())
    if json_out:  # on-sensor rows carry their own column names and "on_sensor": true (never "p50 ms")
        print_json([dict(zip(HEADER, row, strict=True)) | {"id": r.doc["id"]}
                    for row, r in zip(table_rows(comp), comp.rows, strict=True)]
                   + [dict(zip(SENSOR_HEADER, row, strict=True)) | {"id": r.doc["id"], "on_sensor": True}
                      for row, r in zip(sensor_rows(comp), comp.sensor, strict=True)])
        return
    if comp.rows:
        print_fitted(out_console(), err_console(), *prune(HEADER, table_rows(comp)), REPORT_LAYOUT,
                     title=f"{len(comp.rows)} results, {len(comp.devices)} device/interpreter combinations")
    if comp.sensor:
        print_fitted(out_console(), err_console(), *prune(SENSOR_HEADER, sensor_rows(comp)), SENSOR_LAYOUT,
                     title=f"{len(comp.sensor)} on-sensor results (Raspberry Pi AI Camera), apart from the above")
        err_console().print(f"note: {SENSOR_NOTE}", markup=False)
    for note in comp.notes:
        err_console().print(f"[yellow]warn[/]: {inert_markup(note)}")
    out.mkdir(parents=True, exist_ok=True)
    try:
        png: Path | None = plot(comp, out / "bench_report.png") if comp.rows else None
    except MissingDependency as exc:  # a Pi without matplotlib still gets the table and the HTML page
        png = None
        err_console().print(f"note: no plot ({exc})", markup=False)
    html = write_html(comp, out / "bench_report.html", png)
    err_console().print(inert(f"wrote {' and '.join(str(p) for p in (png, html) if p)}"), markup=False,
                        highlight=False)


@handle_errors
def export(*, path: Path, store: Path | None, model: str | None, device: str | None) -> None:
    """Write stored results to a file another machine can import or report on."""
    from edgevision.bench.result_store import write_export

    docs = _select(_load([], store), model, device)
    if not docs:
        raise BadInput("no stored results match" if model or device else "the result store is empty")
    write_export(path, docs)
    err_console().print(inert(f"wrote {len(docs)} results to {path}"), markup=False, highlight=False)


@handle_errors
def import_(*, files: list[Path], store: Path | None) -> None:
    """Merge results from other machines into the local store (all or nothing; duplicates are skipped)."""
    from edgevision.bench.result_store import ResultStore, default_store, merge, read_results

    target = ResultStore.open(store or default_store())
    docs = merge(*(read_results(p) for p in files))  # every file is read and checked before anything is written
    m = target.add(docs)
    msg = f"imported {m.added} new results into {target.path} ({m.present} already there"
    msg += f", {m.conflicts} with a known id but different content kept as stored)" if m.conflicts else ")"
    err_console().print(inert(msg), markup=False, highlight=False)


@handle_errors
def list_(*, store: Path | None, model: str | None, device: str | None, json_out: bool) -> None:
    """The results in the local store."""
    from rich.table import Table

    from edgevision.bench.record import config_label, device_label

    docs = _select(_load([], store), model, device)
    if json_out:
        print_json(docs)
        return
    e = inert_markup  # every cell comes from a results file, perhaps another machine's: data
    t = Table("id", "created", "device", "model", "config", "p50 ms", "FPS", title=f"{len(docs)} stored results")
    for d in docs:
        t.add_row(e(d["id"][:8]), e(d["created"]), e(device_label(d)), e(d["model"].get("name")),
                  e(config_label(d["config"])), e(f"{d['metrics']['invoke']['p50']:.3f}"),
                  e(f"{d['metrics'].get('fps') or 0:.1f}"))
    out_console().print(t)
