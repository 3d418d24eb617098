"""Human output for the IMX500 target: the gate, the sensor's memory and what the sensor normalizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgevision.console import out_console


def render_memory(con: Any, imx: dict[str, Any]) -> None:
    mem = imx.get("memory") or {}
    fits = {True: "[green]fits in the sensor[/]", False: "[red]does NOT fit[/]"}.get(mem.get("fits"), "fit unknown")
    used, total = mem.get("used_kb"), mem.get("total_kb")
    amount = f": {used:.0f} KB of {total:.0f} KB ({used / total:.1%})" if used and total else ""
    con.print(f"IMX500 memory: {fits}{amount}")
    norm = imx.get("normalization") or {}
    if norm:
        moved = ", ".join(norm.get("removed_from_graph") or []) or "nothing"
        if norm.get("where") == "network":
            layer = norm.get("layer") or "none needed"
            con.print(f"input normalization on the sensor: mean={norm.get('mean')} std={norm.get('std')} as the "
                      f"network's first layer ({layer}, replacing {moved}); the sensor feeds raw 0..255 RGB")
        else:  # a card from before that change: it expected the sensor's input settings to normalize
            con.print(f"input normalization expected of the sensor: mean={norm.get('mean')} std={norm.get('std')} "
                      f"(taken out of the graph: {moved}); imx500-package does not set it: convert again")
    layers = imx.get("layers") or []
    if layers:
        ops: dict[str, int] = {}
        for ly in layers:
            ops[ly["op"]] = ops.get(ly["op"], 0) + 1
        con.print(f"layers on the sensor ({len(layers)}, all supported): "
                  + ", ".join(f"{k}×{v}" for k, v in ops.items()))


def render_imx500(r: dict[str, Any]) -> None:
    from rich.table import Table

    con = out_console()
    t = Table("variant", "accuracy", "drop (pts)", "agreement", "size KiB", "gate", "file",
              title=f"{r['model']}: {r['images']} {r['split']} images (float vs MCT-quantized for the IMX500, "
                    f"policy {r['policy']['name']})")
    for name, v in r["variants"].items():
        verdict = "ref" if name == "float32" else ("pass" if v["passed"] else "[red]FAIL[/]")
        t.add_row(name, f"{v['accuracy']:.4f}", f"{v['drop_points']:.2f}", f"{v['agreement']:.3f}",
                  f"{v['size_bytes'] / 1024:.1f}", verdict, Path(v["path"]).name)
    con.print(t)
    imx = r["imx500"]
    render_memory(con, imx)
    con.print(f"files in {Path(imx['packer']).parent}: packerOut.zip (on the Pi: imx500-package -i packerOut.zip "
              f"-o OUT, or edgevision deploy --profile rpi-ai-camera), labels.txt, imx500.json")
    verdict = "[green]PASS[/]" if r["passed"] else "[red]FAIL[/]"
    con.print(f"{verdict}: imx500 drop {r['drop_points']:.2f} points (budget {r['budget_points']}), "
              f"agreement with float {r['agreement']:.3f}")


def imx500_card_path(model: Path) -> Path | None:
    """``imx500.json`` for an IMX500 model given as that file, its folder, packerOut.zip or network.rpk."""
    if model.name == "imx500.json":
        return model
    folder = model if model.is_dir() else model.parent
    if (model.is_dir() or model.suffix in (".zip", ".rpk")) and (folder / "imx500.json").is_file():
        return folder / "imx500.json"
    return None


def describe_imx500(card_path: Path) -> dict[str, Any]:
    from edgevision.imx500.sensor_backend import read_card

    card = read_card(card_path)
    folder = card_path.parent
    files = {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()}
    labels = (folder / "labels.txt").read_text(encoding="utf-8").splitlines() if "labels.txt" in files else []
    return {"name": card.get("name"), "path": str(folder), "target": "imx500", "files": files, "card": card,
            "labels": labels}


def render_info(d: dict[str, Any]) -> None:
    con = out_console()
    card, target = d["card"], d["card"]["target"]
    con.print(f"[bold]{d['name']}[/]  {d['path']}  (IMX500 network for the Raspberry Pi AI Camera)")
    con.print("files: " + ", ".join(f"{k} ({v / 1024:.1f} KiB)" for k, v in d["files"].items()))
    p = card.get("preprocess") or {}
    con.print(f"input: {p.get('width')}x{p.get('height')} {p.get('color', 'RGB')}, crop {p.get('crop', 'squash')} "
              "(the sensor crops and scales)")
    render_memory(con, {"memory": target.get("memory"), "normalization": target.get("normalization"),
                        "layers": target.get("layers")})
    v = card.get("validation") or {}
    if v:
        verdict = {True: ", within budget", False: ", OVER BUDGET"}.get(v.get("passed"), "")
        con.print(f"validated on {v.get('images')} {v.get('split')} images: accuracy {v.get('accuracy')}, float "
                  f"{v.get('float_accuracy')}, drop {v.get('drop_points')} points (budget {v.get('budget_points')}"
                  f"{verdict}), agreement {v.get('agreement')}; {v.get('scored_with', '')}")
    if d["labels"]:
        shown = ", ".join(d["labels"][:20]) + (f", … ({len(d['labels'])} in all)" if len(d["labels"]) > 20 else "")
        con.print(f"labels (labels.txt): {shown}")
