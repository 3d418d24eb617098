"""``edgevision data check|pack``: look at a dataset before training on it; pack it into shards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgevision.cli.arguments import Commands, argument, option
from edgevision.cli.common import err_console, handle_errors, out_console, print_json, quiet_tensorflow

SHOWN = 5  # paths listed per problem in the human output (--json has them all)

CHECK_EPILOG = """Examples:

  edgevision data check data/flowers

  edgevision data check data/flowers --min-size 64 --json > check.json

  edgevision data check data/flowers --strict   (exit 1 on unreadable files or duplicates across splits)"""

PACK_EPILOG = """Examples:

  edgevision data pack data/flowers --out data/flowers-shards --shards 16

  edgevision data pack data/flowers --out data/flowers-64 --size 64   (store pixels resized for 64 px training)

  edgevision train data/flowers-shards --out runs/flowers"""


def register(commands: Commands) -> None:
    data = commands.group("data", "Inspect a dataset (check) or pack it into TFRecord shards (pack).",
                          epilog="Examples:\n\n  edgevision data check data/flowers\n\n"
                                 "  edgevision data pack data/flowers --out data/flowers-shards")

    p = data.add("check", check, epilog=CHECK_EPILOG)
    argument(p, "data", help="Dataset folder (one sub-folder per class, optional splits) or a shard folder.")
    option(p, "--min-size", kind=int, default=32, help="Images with a side below this are reported as tiny.")
    option(p, "--threads", kind=int, default=4, min=1, help="Files decoded in parallel.")
    option(p, "--strict", kind=bool, default=False, help="Exit 1 when files are unreadable or duplicates cross "
                                                         "splits or labels.")
    option(p, "--json", kind=bool, default=False, dest="json_out", help="Print the full report as JSON.")

    p = data.add("pack", pack, epilog=PACK_EPILOG)
    argument(p, "data", help="Dataset folder (one sub-folder per class, optional splits).")
    option(p, "--out", "-o", kind=Path, required=True, help="Empty folder for the shards and their manifest.")
    option(p, "--shards", kind=int, min=1, help="Training shards (val/test get a proportional number); default: "
                                                "~100 MB each.")
    option(p, "--size", kind=int, help="Store pixels resized to SIZE (faster training; the recipe must then use "
                                       "the same size/resize/crop).")
    option(p, "--resize", default="area", help="With --size: area | bilinear | nearest.")
    option(p, "--crop", default="squash", help="With --size: squash | center | letterbox.")
    option(p, "--val-fraction", kind=float, default=0.15, help="Held out for validation when the folder has no "
                                                               "val/ split.")
    option(p, "--test-fraction", kind=float, default=0.15, help="Held out for testing when the folder has no "
                                                                "split folders.")
    option(p, "--seed", kind=int, default=42, help="Seed of the split and of the order in the shards.")
    option(p, "--threads", kind=int, default=4, min=1, help="Files read and verified in parallel.")
    option(p, "--json", kind=bool, default=False, dest="json_out", help="Print the manifest summary as JSON.")


@handle_errors
def check(*, data: Path, min_size: int, threads: int, strict: bool, json_out: bool) -> None:
    """Class counts, imbalance, duplicates, unreadable, tiny, grayscale/CMYK/alpha and rotated images."""
    quiet_tensorflow()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from edgevision.data.check import check_dataset, severe
    from edgevision.errors import CheckFailed

    with Progress(TextColumn("checking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console(), transient=True) as prog:
        task = prog.add_task("check", total=None)
        report = check_dataset(data, min_size, threads, on_file=lambda: prog.advance(task),
                               on_total=lambda n: prog.update(task, total=n))
    if json_out:
        print_json(report)
    else:
        _show_check(report)
    bad = severe(report)
    if strict and bad:
        raise CheckFailed(f"{data}: " + "; ".join(bad))


@handle_errors
def pack(*, data: Path, out: Path, shards: int | None, size: int | None, resize: str, crop: str,
         val_fraction: float, test_fraction: float, seed: int, threads: int, json_out: bool) -> None:
    """Write TFRecord shards (original image bytes + label) that `edgevision train` streams."""
    quiet_tensorflow()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from edgevision.data.discover import discover, ensure_val
    from edgevision.data.shards import pack as pack_shards
    from edgevision.model.spec import PreprocessSpec

    spec = PreprocessSpec(width=size, height=size, resize=resize, crop=crop) if size else None
    ds = ensure_val(discover(data, val_fraction, test_fraction, seed), val_fraction, seed)
    n_files = len(ds.train) + len(ds.val) + len(ds.test)
    n_shards = shards or _auto_shards(ds.train)
    with Progress(TextColumn("packing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console(), transient=True) as prog:
        task = prog.add_task("pack", total=n_files)
        manifest = pack_shards(ds, out, n_shards, spec, seed, threads, on_image=lambda: prog.advance(task))
    summary = {"out": str(out), "content": manifest["content"], "classes": len(manifest["classes"]),
               "splits": {k: {"shards": len(v["files"]), "images": v["count"], "mb": round(v["bytes"] / 2**20, 1)}
                          for k, v in manifest["splits"].items()},
               "skipped": len(manifest["skipped"])}
    if json_out:
        print_json(summary)
        return
    from edgevision.console import inert_markup as e

    con = out_console()
    for name, s in summary["splits"].items():
        con.print(f"{e(f'{name:5s}')}: {s['images']} images in {s['shards']} shard(s), {s['mb']} MB")
    if manifest["skipped"]:
        con.print(f"[yellow]left out {len(manifest['skipped'])} unreadable file(s)[/]: "
                  + e(", ".join(str(p) for p, _ in manifest["skipped"][:SHOWN])))
    con.print(f"[bold green]packed[/] into {e(out)}\nnext: edgevision train {e(out)} --out runs/NAME")


def _auto_shards(train: Any) -> int:
    total = 0
    for s in train:
        try:
            total += Path(s.path).stat().st_size
        except OSError:
            pass
    return max(1, round(total / (100 * 2**20)))


def _show_check(r: dict[str, Any]) -> None:
    from rich.table import Table

    from edgevision.console import inert_markup as e

    con = out_console()  # class names and file names are the dataset's: every one escaped (``e``)
    t = Table("class", "train", "val", "test", title=f"{e(r['root'])}: {r['files']} files, {len(r['classes'])} classes "
              f"({r['kind']})")
    for name, c in r["per_class"].items():
        t.add_row(e(name), str(c["train"]), str(c["val"]), str(c["test"]))
    con.print(t)
    imb = r["imbalance"]
    if imb["ratio"]:
        tone = "yellow" if imb["ratio"] > 3 else "green"
        con.print(f"imbalance (train): [{tone}]{imb['ratio']:.2f}x[/] ({e(imb['largest'])} largest, "
                  f"{e(imb['smallest'])} "
                  "smallest); training weights classes by inverse frequency (class_weight = balanced)")
    for split, names in r["empty_classes"].items():
        con.print(f"[yellow]{e(split)} has no images of[/]: {e(', '.join(names))}")
    if r["image_size"]:
        s = r["image_size"]
        con.print(f"image size: min {s['min'][0]}x{s['min'][1]}, median {s['median'][0]}x{s['median'][1]}, "
                  f"max {s['max'][0]}x{s['max'][1]}; formats: "
                  + e(", ".join(f"{k} {v}" for k, v in r["formats"].items())))
    root = r["root"].rstrip("/") + "/"

    def rel(name: str) -> str:  # paths under the dataset root, so the table stays readable
        return name[len(root):] if name.startswith(root) else name

    p = Table("finding", "files", "examples", "what training does", title="findings")
    rows = [("unreadable", [rel(u["file"]) for u in r["unreadable"]]),
            ("duplicates", [" = ".join(rel(f) for f in d["files"][:2]) for d in r["duplicates"]]),
            ("tiny", [f"{rel(t['file'])} ({t['width']}x{t['height']})" for t in r["tiny"]]),
            ("grayscale", [rel(f) for f in r["grayscale"]]), ("cmyk", [rel(f) for f in r["cmyk"]]),
            ("alpha", [rel(f) for f in r["alpha"]]), ("exif_rotated", [rel(f) for f in r["exif_rotated"]])]
    for key, items in rows:
        count = r["problems"][key]
        extra = ""
        if key == "duplicates" and count:
            extra = f" ({r['duplicates_across_splits']} across splits, {r['duplicates_with_conflicting_labels']} " \
                    "with different labels)"
        shown = "\n".join(e(i) for i in items[:SHOWN]) + ("\n..." if len(items) > SHOWN else "")
        p.add_row(key, f"{count}{extra}", shown,
                  r["handling"][key] if count else "")
    con.print(p)
