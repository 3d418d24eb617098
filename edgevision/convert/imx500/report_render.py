"""Human output of the IMX500 target's report: the gate, the sensor's memory and what the sensor normalizes.

Every string from the report (names, paths, layer names) is printed inert (``console.inert_markup``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgevision.console import inert_markup as e
from edgevision.console import out_console


def render_memory(con: Any, imx: dict[str, Any]) -> None:
    mem = imx.get("memory") or {}
    fits = {True: "[green]fits in the sensor[/]", False: "[red]does NOT fit[/]"}.get(mem.get("fits"), "fit unknown")
    used, total = mem.get("used_kb"), mem.get("total_kb")
    amount = f": {used:.0f} KB of {total:.0f} KB ({used / total:.1%})" if used and total else ""
    con.print(f"IMX500 memory: {fits}{amount}")
    norm = imx.get("normalization") or {}
    if norm:
        moved = e(", ".join(map(str, norm.get("removed_from_graph") or [])) or "nothing")
        if norm.get("where") == "network":
            layer = e(norm.get("layer") or "none needed")
            con.print(f"input normalization on the sensor: mean={e(norm.get('mean'))} std={e(norm.get('std'))} as the "
                      f"network's first layer ({layer}, replacing {moved}); the sensor feeds raw 0..255 RGB")
        else:  # a card from before that change: it expected the sensor's input settings to normalize
            con.print(f"input normalization expected of the sensor: mean={e(norm.get('mean'))} "
                      f"std={e(norm.get('std'))} "
                      f"(taken out of the graph: {moved}); imx500-package does not set it: convert again")
    layers = imx.get("layers") or []
    if layers:
        ops: dict[str, int] = {}
        for ly in layers:
            ops[ly["op"]] = ops.get(ly["op"], 0) + 1
        con.print(f"layers on the sensor ({len(layers)}, all supported): "
                  + ", ".join(f"{e(k)}×{v}" for k, v in ops.items()))


def render_imx500(r: dict[str, Any]) -> None:
    from rich.table import Table

    con = out_console()
    t = Table("variant", "accuracy", "drop (pts)", "agreement", "size KiB", "gate", "file",
              title=f"{e(r['model'])}: {r['images']} {e(r['split'])} images (float vs MCT-quantized for the IMX500, "
                    f"policy {e(r['policy']['name'])})")
    for name, v in r["variants"].items():
        verdict = "ref" if name == "float32" else ("pass" if v["passed"] else "[red]FAIL[/]")
        t.add_row(e(name), f"{v['accuracy']:.4f}", f"{v['drop_points']:.2f}", f"{v['agreement']:.3f}",
                  f"{v['size_bytes'] / 1024:.1f}", verdict, e(Path(v["path"]).name))
    con.print(t)
    imx = r["imx500"]
    render_memory(con, imx)
    con.print(f"files in {e(Path(imx['packer']).parent)}: packerOut.zip (on the Pi: imx500-package -i packerOut.zip "
              f"-o OUT, or edgevision deploy --profile rpi-ai-camera), labels.txt, imx500.json")
    verdict = "[green]PASS[/]" if r["passed"] else "[red]FAIL[/]"
    con.print(f"{verdict}: imx500 drop {r['drop_points']:.2f} points (budget {r['budget_points']}), "
              f"agreement with float {r['agreement']:.3f}")
