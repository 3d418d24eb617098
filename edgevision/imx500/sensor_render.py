"""Human output of `edgevision info` for an IMX500 network: its card, files, input, memory and labels.

Every value read from a card, a network or a labels file is escaped for the console (``e``): it is data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgevision.console import inert_markup as e
from edgevision.console import out_console
from edgevision.convert.imx500.report_render import render_memory


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
    con.print(f"[bold]{e(d['name'])}[/]  {e(d['path'])}  (IMX500 network for the Raspberry Pi AI Camera)")
    con.print("files: " + ", ".join(f"{e(k)} ({v / 1024:.1f} KiB)" for k, v in d["files"].items()))
    p = card.get("preprocess") or {}
    con.print(e(f"input: {p.get('width')}x{p.get('height')} {p.get('color', 'RGB')}, crop {p.get('crop', 'squash')} "
                "(the sensor crops and scales)"))
    render_memory(con, {"memory": target.get("memory"), "normalization": target.get("normalization"),
                        "layers": target.get("layers")})
    v = card.get("validation") or {}
    if v:
        verdict = {True: ", within budget", False: ", OVER BUDGET"}.get(v.get("passed"), "")
        con.print(e(f"validated on {v.get('images')} {v.get('split')} images: accuracy {v.get('accuracy')}, float "
                    f"{v.get('float_accuracy')}, drop {v.get('drop_points')} points (budget {v.get('budget_points')}"
                    f"{verdict}), agreement {v.get('agreement')}; {v.get('scored_with', '')}"))
    if d["labels"]:
        shown = ", ".join(d["labels"][:20]) + (f", … ({len(d['labels'])} in all)" if len(d["labels"]) > 20 else "")
        con.print(f"labels (labels.txt): {e(shown)}")
