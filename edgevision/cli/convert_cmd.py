"""``edgevision convert RUN``: quantize, validate through the device runtime, gate the drop, repair."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from edgevision.cli.arguments import Commands, argument, option
from edgevision.cli.common import (
    EXIT_CHECK_FAILED,
    err_console,
    handle_errors,
    out_console,
    print_json,
    quiet_tensorflow,
)
from edgevision.cli.tables import Layout, print_fitted
from edgevision.convert.targets import TARGETS, help_lines, report_renderer
from edgevision.errors import BadInput

BROUGHT_HELP = ("Extras per model format (pip install 'edgevision[EXTRA]'): .keras/.h5 (Keras 3), SavedModel,\n"
                "float .tflite: train; Keras 2 / tf.keras .h5 (Teachable Machine): keras2; .onnx: onnx-source;\n"
                ".pt2 and torch modules: pytorch.")

# On a narrow terminal the variants table keeps accuracy, drop, size × and latency × (the gate's evidence).
CONVERT_LAYOUT = Layout(drop=("file", "size KiB", "latency ms", "agreement"), wrapping=("gate",), whole="variant")


EPILOG = ("Examples:\n\n  edgevision convert runs/flowers\n\n"
          "  edgevision convert runs/flowers --quant all --max-drop 0.5\n\n"
          "  edgevision convert runs/flowers --policy edgetpu\n\n"
          + "".join(f"  {t.example}\n\n" for t in TARGETS if t.example) +
          "  edgevision convert runs/flowers --policy convert/strict.toml --format onnx --json\n\n"
          "  edgevision convert runs/flowers --quant int8 --io int8 --no-repair\n\n"
          "A model you already have (labels in its output order; data: one folder per class):\n\n"
          "  edgevision convert converted_keras/keras_model.h5 --labels converted_keras/labels.txt "
          "--data photos --preset teachable-machine\n\n"
          "  edgevision convert net.onnx --labels labels.txt --data photos --norm imagenet --crop center\n\n"
          "  edgevision convert model.pt2 --labels labels.txt --data frames --unlabelled --preset torchvision\n\n"
          + BROUGHT_HELP)


def register(commands: Commands) -> None:
    p = commands.add("convert", convert, epilog=EPILOG)
    argument(p, "run", help="Run directory written by edgevision train, or a model file: .keras, .h5, SavedModel dir, "
             ".tflite, .onnx, .pt2.")
    option(p, "--data", kind=Path, help="A brought model's images: one folder per class (optional train/val/test), "
                                        "or any images with --unlabelled.")
    option(p, "--unlabelled", kind=bool, default=False, help="--data has no class folders: gate on agreement with "
                                                             "the original model (policy max_disagreement).")
    option(p, "--preset", help="Preprocessing of a known source: teachable-machine, torchvision, keras-mobilenet, "
                               "keras-efficientnet, unit.")
    option(p, "--norm", help="unit | symmetric | imagenet | raw | MEAN,STD (0..255).")
    option(p, "--crop", help="squash | center | letterbox.")
    option(p, "--resize", help="bilinear | area | nearest.")
    option(p, "--size", help="N or WxH, for a model whose input size is dynamic.")
    option(p, "--outputs", default="auto", help="auto | probabilities | logits (a softmax is added).")
    option(p, "--drop-first-label", kind=bool, default=False, help="The labels file has one extra first line "
                                                                   "(e.g. 'background'): drop it.")
    option(p, "--policy", help="Quantization policy: a name in convert/ (default, strict, or a target's) or a "
                               "TOML path.")
    option(p, "--quant", help="int8 | float16 | dynamic | float32 | all.")
    option(p, "--max-drop", kind=float, help="Accuracy budget in percentage points.")
    option(p, "--io", help="int8 model input/output type: uint8 or int8.")
    option(p, "--calibration-size", kind=int, help="Representative images.")
    option(p, "--split", help="Held-out split: test (default) or val.")
    option(p, "--labels", kind=Path, help="Labels file (must match the run's classes).")
    option(p, "--out", kind=Path, help="Output folder (default RUN/export).")
    option(p, "--target", many=True, help=help_lines())
    option(p, "--format", dest="fmt", many=True, help="tflite (always) and/or onnx.")
    option(p, "--repair", kind=bool, negative="--no-repair", help="Repair an over-budget int8 model (default: as "
                                                                  "the policy says).")
    option(p, "--threads", kind=int, help="Interpreter threads (default: all cores).")
    option(p, "--json", kind=bool, default=False, dest="json_out", help="Print the report as JSON.")


@handle_errors
def convert(*, run: Path, data: Path | None, unlabelled: bool, preset: str | None, norm: str | None,
            crop: str | None, resize: str | None, size: str | None, outputs: str, drop_first_label: bool,
            policy: str | None, quant: str | None, max_drop: float | None, io: str | None,
            calibration_size: int | None, split: str | None, labels: Path | None, out: Path | None,
            target: list[str] | None, fmt: list[str] | None, repair: bool | None, threads: int | None,
            json_out: bool) -> None:
    """Convert a trained run to TFLite and prove the quantized model is still the model."""
    quiet_tensorflow()
    from edgevision.convert.conversion import ConvertOptions, convert_run

    formats = tuple(dict.fromkeys(["tflite", *fmt])) if fmt else None
    options = ConvertOptions(quant=quant, max_drop=max_drop, io=io, calibration_size=calibration_size, split=split,
                             labels=labels, out=out, policy=policy, repair=repair, threads=threads,
                             targets=tuple(target) if target else None, formats=formats)
    brought = {"--data": data, "--unlabelled": unlabelled or None, "--preset": preset, "--norm": norm,
               "--crop": crop, "--resize": resize, "--size": size, "--drop-first-label": drop_first_label or None,
               "--outputs": None if outputs == "auto" else outputs}
    is_brought = run.is_file() or (run / "saved_model.pb").is_file() or (not run.exists() and data is not None)
    if not is_brought:
        given = [k for k, v in brought.items() if v is not None]
        if given:
            raise BadInput(f"{given[0]}: only for a model you brought; {run} is a training run (its data and "
                           "preprocessing are recorded)")
        report = convert_run(run, options, err_console())
    else:
        from edgevision.convert.frontends.bring import BringOptions, convert_brought
        from edgevision.convert.frontends.declare import Declared, parse_size

        if data is None:
            raise BadInput(f"{run}: not a training run; a model you brought needs --data DIR (images to "
                           "calibrate and validate on)")
        declared = Declared(preset=preset, norm=norm, crop=crop, resize=resize,
                            size=parse_size(size) if size else None)
        report = convert_brought(run, BringOptions(data=data, labels=labels, declared=declared,
                                                   unlabelled=unlabelled, outputs=outputs,
                                                   drop_first_label=drop_first_label),
                                 replace(options, labels=None), err_console())
    if json_out:
        print_json(report)
    elif report_renderer(report) is not None:  # a target with a report of its own shape
        report_renderer(report)(report)
    else:
        render(report)
    if not report["passed"]:
        from edgevision.console import inert_markup

        losers = ", ".join(report["worst_classes"]) or "spread over all classes"
        why = (report.get("repair") or {}).get("why_not")
        what = (f"{report['verdict']}: over the limit" if report.get("gate") == "agreement" else
                f"accuracy drop {report['drop_points']:.2f} points exceeds the budget of {report['budget_points']} "
                f"(lost most: {losers})")
        err_console().print("[red]error:[/] " + inert_markup(what + (f"; {why}" if why else "")))
        raise SystemExit(EXIT_CHECK_FAILED)


def render(r: dict[str, Any]) -> None:
    """The report as tables and lines; names from the model, its layers and the dataset are escaped (``e``)."""
    from edgevision.console import inert_markup as e

    con = out_console()
    header = ("variant", "accuracy", "drop (pts)", "agreement", "size KiB", "size ×", "latency ms", "latency ×", "gate",
              "file")
    ref = r["variants"]["float32"]
    rows = []
    for name, v in r["variants"].items():
        verdict = "ref" if name == "float32" else ("pass" if v["passed"] else "[red]FAIL[/]")
        if v.get("superseded_by"):
            verdict += f" → {v['superseded_by']}"
        rows.append((name, f"{v['accuracy']:.4f}", f"{v['drop_points']:.2f}", f"{v['agreement']:.3f}",
                     f"{v['size_bytes'] / 1024:.1f}", f"{v['size_bytes'] / ref['size_bytes']:.2f}",
                     f"{v['latency_ms']:.3f}", f"{v['latency_ms'] / ref['latency_ms']:.2f}", verdict,
                     e(Path(v["path"]).name)))
    print_fitted(con, err_console(), header, rows, CONVERT_LAYOUT, markup=True,
                 title=f"{e(r['model'])}: {r['images']} {e(r['split'])} images through the device runtime "
                       f"(policy {e(r['policy']['name'])})")
    if r.get("source"):
        _render_source(con, r["source"])
    con.print(f"files in {e(Path(ref['path']).parent)}; sizes include the embedded metadata, labels and reference "
              "images; latency is the median invoke() on this machine")
    if r.get("stability"):
        _render_stability(con, r)
    if r.get("repair"):
        _render_repair(con, r)
    if r.get("edgetpu"):
        _render_edgetpu(con, r["edgetpu"])
    if r.get("onnx"):
        o = r["onnx"]
        con.print(f"ONNX: {e(o['path'])} ({o['size_bytes'] / 1024:.1f} KiB, opset {o['opset']}, {o['route']}); "
                  f"onnxruntime {o['onnxruntime']} agrees with TFLite on {o['agreement']:.1%} of {o['images']} "
                  f"images, max score difference {o['max_abs_score_diff']:.2e}")
    verdict = "[green]PASS[/]" if r["passed"] else "[red]FAIL[/]"
    con.print(f"{verdict}: {r['quant']} drop {r['drop_points']:.2f} points (budget {r['budget_points']}), "
              f"agreement with float {r['agreement']:.3f}")


def _render_stability(con: Any, r: dict[str, Any]) -> None:
    from rich.table import Table

    from edgevision.convert.stability import stability_rows, summarize

    st, fl = r["stability"], r["noise_floor"]
    con.print(f"noise floor: the float model changes its own top-1 on {summarize(fl)} of {fl['images']} images "
              f"(floor {st['floor_points']:.2f}%); {r['quant']} changes {st['disagreement_points']:.2f}%, top-5 "
              f"overlap {st['top5_overlap']:.3f}, KL {st['kl_divergence']:.3g}; changes on photos it is sure of that "
              f"no benign change flips: {st.get('damage', 0)}")
    t = Table("float top-1 margin", "images", f"{r['quant']} flips", "float flips (benign changes)",
              title="top-1 changes by the float model's margin")
    for row in stability_rows(st):
        t.add_row(*row)
    con.print(t)


def _render_repair(con: Any, r: dict[str, Any]) -> None:
    from rich.table import Table

    from edgevision.console import inert_markup as esc

    a = r["repair"]
    g = a["plain_int8_gate"]
    con.print(f"[yellow]int8 was over budget[/]: drop {g['drop_points']:.2f} points (lost most: "
              f"{esc(', '.join(g['worst_classes']) or '-')}); repair judged on "
              f"{a.get('repair_set', {}).get('images', '?')} "
              f"{a.get('repair_set', {}).get('source', '')} images, then re-validated on {r['split']}")
    if a.get("layer_errors"):
        t = Table("op", "layer", "channel error", "rmse/scale", title="worst layers (quantization debugger)")
        for e in a["layer_errors"][:5]:
            t.add_row(esc(e["op"]), esc(e.get("layer", e["tensor"])[-60:]), f"{e['channel_error']:.4f}",
                      f"{e['rmse_scale']:.3f}")
        con.print(t)
    for s in a["strategies"]:
        if "skipped" in s:
            con.print(f"  {s['strategy']}: skipped ({esc(s['skipped'])})")
            continue
        res = s.get("gate") or s.get("result", {})
        kept = ", ".join(f"{x.get('layer', x['tensor'])[-40:]} ({x['op']})" for x in s.get("float_layers", []))
        con.print(f"  {s['strategy']}: {'[green]within budget[/]' if s.get('passed') else '[red]not enough[/]'}, "
                  f"drop {res.get('drop_points')} points" + (f"; kept in float: {esc(kept)}" if kept else "")
                  + (f" ({s['trials']} candidate models tried)" if "trials" in s else ""))
    chosen = a.get("chosen")
    if chosen and chosen in r["variants"] and "int8" in r["variants"]:
        c, base = r["variants"][chosen], r["variants"]["int8"]
        con.print(f"  cost of {chosen} vs int8: latency ×{c['latency_ms'] / base['latency_ms']:.2f}, "
                  f"size ×{c['size_bytes'] / base['size_bytes']:.2f}")
    if a.get("why_not"):
        con.print(f"  [red]why not[/]: {esc(a['why_not'])}")


def _render_edgetpu(con: Any, e: dict[str, Any]) -> None:
    from rich.table import Table

    from edgevision.console import inert_markup as esc

    head = "[green]ready[/]" if e["ready"] else f"[red]not ready[/] ({esc(e['first_blocker'])})"
    t = Table("#", "op", "maps to Edge TPU", "note", title=f"Edge TPU: {head}: {e['ops_mapped']}/{e['ops_total']} "
                                                           f"ops expected on the TPU")
    for row in e["ops"]:
        t.add_row(str(row["index"]), esc(row["op"]), "yes" if row["maps"] else "[red]no[/]", esc(row["note"]))
    con.print(t)
    comp = e.get("compiler") or {}
    if comp.get("ran") and comp.get("path"):
        con.print(esc(f"edgetpu_compiler {comp.get('version') or ''}: {comp['path']} — {comp.get('ops_on_tpu')} ops "
                      f"on the Edge TPU, {comp.get('ops_on_cpu')} on the CPU"))
    elif comp.get("message"):
        con.print(f"edgetpu_compiler: {esc(comp['message'])}")


def _render_source(con: Any, s: dict[str, Any]) -> None:
    from edgevision.console import inert_markup as esc

    p, fc = s["preprocess"], s["float_check"]
    con.print(esc(f"brought {s['format']} model {s['file']} via {s['route']}: normalization from {p['norm']} "
              f"(mean {p['mean']}, std {p['std']}, applied {p['applied']}), crop {p['crop']}; outputs {s['outputs']}"
              f"{' (softmax added)' if s['softmax_added'] else ''}; labels from {s['labels']}; gate: {s['gate']}"))
    con.print(f"float32 TFLite vs the original model on {fc['images']} images: top-1 agreement "
              f"{fc['top1_agreement']:.1%}, max score difference {fc['max_abs_score_diff']:.2e}")
