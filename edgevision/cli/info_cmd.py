"""``edgevision info MODEL``: inputs, outputs, quantization, labels and metadata of any .tflite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgevision.cli.arguments import Commands, argument, option
from edgevision.cli.common import handle_errors, out_console, print_json
from edgevision.runtime.backends import examples, models_help

EPILOG = ("Examples:\n\n  edgevision info runs/shapes/export/shapes_int8.tflite\n\n"
          "  edgevision info mobilenet_v2.tflite --labels imagenet_labels.txt --json\n\n"
          + "".join(f"  {line}\n\n" for line in examples("info"))).rstrip()


def register(commands: Commands) -> None:
    p = commands.add("info", info, epilog=EPILOG)
    argument(p, "model", help="The model file: " + models_help())
    option(p, "--labels", kind=Path, help="Labels file (overrides embedded labels).")
    option(p, "--json", kind=bool, default=False, dest="json_out", help="Print one JSON object.")


@handle_errors
def info(*, model: Path, labels: Path | None, json_out: bool) -> None:
    """Show what a model file says about itself."""
    from edgevision.runtime.backends import BACKENDS

    for entry in (e for e in BACKENDS if e.model_files):  # backends whose models are not a .tflite (a sensor's)
        described = entry.hook("describe_model")(model) if entry.hook("describe_model") is not None else None
        if described is not None:
            print_json(described) if json_out else entry.hook("render_model")(described)
            return
    from edgevision.runtime.inspect import describe_model

    data = describe_model(model, labels)
    if json_out:
        print_json(data)
    else:
        render(data)


def render(d: dict[str, Any]) -> None:
    """The human view of :func:`describe_model`: every value from the model is escaped (``e``) for the console."""
    from rich.table import Table

    from edgevision.console import inert_markup as e

    con = out_console()
    con.print(f"[bold]{e(d['name'])}[/]  {e(d['path'])}  ({d['size_bytes'] / 1024:.1f} KiB)")
    if d.get("edgetpu_compiled"):
        con.print("[yellow]compiled for the Edge TPU[/]: tensors are shown by the Edge TPU runtime only")
    if "quantization" in d:
        con.print(f"quantization: [bold]{e(d['quantization'])}[/]   runtime: {e(d['runtime']['name'])} "
                  f"{e(d['runtime']['version'])}")
        t = Table("", "name", "shape", "dtype", "scale", "zero point", title="tensors")
        for kind in ("inputs", "outputs"):
            for x in d[kind]:
                t.add_row(kind[:-1], e(x["name"]), e(x["shape"]), e(x["dtype"]), f"{x['scale']:.6g}",
                          e(x["zero_point"]))
        con.print(t)
        con.print("ops: " + ", ".join(f"{e(k)}×{v}" for k, v in d["ops"].items()))
        facts = d.get("quantization_facts") or {}
        if facts.get("float_ops") and d["quantization"] != "float32":
            con.print(f"computes in float: {len(facts['float_ops'])} op(s): "
                      + ", ".join(f"{e(f['op'])} {e(f['output'][-50:])}" for f in facts["float_ops"][:8])
                      + (" …" if len(facts["float_ops"]) > 8 else ""))
        if facts:
            con.print("tensor types: " + ", ".join(f"{e(k)}×{v}" for k, v in facts["tensor_types"].items())
                      + ("  (integer end to end)" if facts.get("integer_only") else ""))
    md = d.get("metadata")
    if md:
        con.print(f"TFLite Metadata: name={e(repr(md['name']))} version={e(repr(md['version']))} "
                  f"color={e(md['color_space'])} mean={e(md['mean'])} std={e(md['std'])} "
                  f"labels file={e(md['labels_file'])}")
    else:
        con.print("TFLite Metadata: none")
    card = d.get("card")
    if card:
        p = card["preprocess"]
        con.print(f"edgevision card: {e(p['width'])}x{e(p['height'])} {e(p['color'])} resize={e(p['resize'])} "
                  f"crop={e(p['crop'])} mean={e(p['mean'])} std={e(p['std'])} quantization={e(card['quantization'])} "
                  f"recipe={e(repr(card['recipe']))}")
        if card.get("validation"):
            v = card["validation"]
            verdict = {True: ", within budget", False: ", OVER BUDGET"}.get(v.get("passed"), "")
            con.print(e(f"validated on {v.get('images')} {v.get('split')} images: accuracy {v.get('accuracy')}, "
                        f"float {v.get('float_accuracy')}, drop {v.get('drop_points')} points (budget "
                        f"{v.get('budget_points')}{verdict}), agreement {v.get('agreement')}"))
            rep = v.get("repair")
            if rep:
                layers = ", ".join(f"{x.get('layer', x.get('tensor'))} ({x.get('op')})"
                                   for x in rep.get("float_layers", []))
                con.print(e(f"repaired ({rep.get('strategy')}): plain int8 lost {rep.get('plain_int8_drop_points')} "
                            f"points" + (f"; kept in float: {layers}" if layers else "")))
        cal = card.get("calibration") or {}
        if cal:
            per = cal.get("per_class") or {}
            con.print(e(f"calibration: {cal.get('images')} {cal.get('source')} images (asked {cal.get('requested')}, "
                        f"stratified over {len(per)} classes, seed {cal.get('seed')}, io {cal.get('io')}), "
                        f"files sha256 {str(cal.get('files_sha256', ''))[:12]}"))
        refs = card.get("references") or []
        if refs:
            con.print(e(f"reference images: {len(refs)} (" + ", ".join(f"{x['file']}={x['label']}" for x in refs)
                        + ") with desktop scores, for edgevision doctor"))
    labels = d.get("labels")
    if labels:
        shown = ", ".join(labels[:20]) + (f", … ({len(labels)} in all)" if len(labels) > 20 else "")
        con.print(f"labels ({e(d['labels_origin'])}): {e(shown)}")
    else:
        con.print("labels: none (pass --labels FILE)")
