"""Peak RSS of each small hostile input, on this tree and (``--before TREE``) another, in one run.

    .venv-device/bin/python benchmarks/hostile_rss.py --before /tmp/old   # git worktree add /tmp/old <commit>

Each case is a file of a few bytes to 2 MB (or a loopback server) that claims a huge size: the inputs of
tests/deploy/test_hostile_inputs.py (tests/hostile_inputs.py), and a device's samples folder grown past
its bounds (tests/deploy/test_field_hostile.py). Every command runs in a fresh process of
the TensorFlow-free interpreter running this script, with PYTHONPATH set to the tree, watched by a small
process that reads its peak RSS (``getrusage(RUSAGE_CHILDREN)``) and stops a live run with SIGTERM after
its seconds. Prints a table: peak MB before and after, their ratio, and how each ended.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.hostile_inputs import (  # noqa: E402 - the repository's own helpers
    LABELS_15_BYTES,
    empty_headers_tar,
    forge_bundle,
    imx500_bundle_tar,
    long_name_tar,
    many_tensors_model,
    mjpeg_server,
    mqtt_broker_huge_publish,
    peak_rss,
    runtime_for,
    write_bundle,
)

MODEL = REPO / "tests" / "fixtures" / "models" / "shapes_int8.tflite"
PROFILE = {"name": "x86-64", "arch": "x86_64"}


def _inputs(work: Path) -> dict[str, Path]:
    import cv2
    import numpy as np

    from edgevision.model.tflite_file import associated_files, embed, metadata_buffers

    out = {"labels": work / "labels.txt", "frame": work / "frame.png", "tensors": work / "tensors.tflite",
           "inside": work / "labels_inside.tflite"}
    out["labels"].write_bytes(LABELS_15_BYTES)
    cv2.imwrite(str(out["frame"]), np.full((48, 48, 3), 127, np.uint8))
    out["tensors"].write_bytes(many_tensors_model(200_000))
    data = MODEL.read_bytes()
    files = associated_files(data)
    name = next(n for n in files if n.endswith(".txt"))
    out["inside"].write_bytes(embed(data, {"TFLITE_METADATA": metadata_buffers(data)["TFLITE_METADATA"]},
                                    {**files, name: LABELS_15_BYTES}))
    out["bundle"] = write_bundle(work / "labels_bundle", forge_bundle(
        {"model.tflite": data, "labels.txt": LABELS_15_BYTES},
        runtime_for("model.tflite", str(out["frame"]), "labels.txt"), PROFILE))
    out["headers"] = empty_headers_tar(work / "headers.tar.gz")
    out["longname"] = long_name_tar(work / "longname.tar.gz")
    out["packer"] = imx500_bundle_tar(work / "packer.tar.gz")
    out["samples_root"] = _samples_root(work / "samples-root")
    return out


def _samples_root(root: Path) -> Path:
    """A device root whose samples folder holds an index of 800,000 lines (38 MB, one file named each time) and
    a sparse 700 MB file the index names: what a full card, a bug or a person with the service's rights leaves."""
    folder = root / "samples"
    folder.mkdir(parents=True)
    (folder / "20240101T000000-1.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    with open(folder / "20240101T000000-2.jpg", "wb") as fh:
        fh.truncate(700 << 20)
    line = b'{"file": "20240101T000000-1.jpg", "bytes": 4, "t": 1700000000.0, "label": "x"}\n'
    big = b'{"file": "20240101T000000-2.jpg", "bytes": 734003200, "t": 1700000001.0, "label": "x"}\n'
    (folder / "samples.jsonl").write_bytes(line * 800_000 + big)
    return root


def _cli(tree: Path, work: Path, args: list[str], seconds: float) -> dict:
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "HOME": str(work), "COLUMNS": "200"}
    return peak_rss([sys.executable, "-m", "edgevision", *args], env, work, term_after=seconds)


def _bundle_served(tree: Path, work: Path, bundle: Path) -> dict:
    """install, then (if it was accepted) activate and serve it: the service's peak, or the install's refusal."""
    root = work / "root-serve"
    shutil.rmtree(root, ignore_errors=True)
    r = _cli(tree, work, ["device", "install", str(bundle), "--root", str(root), "--json"], 60)
    if r["code"] != 0:
        return r
    activate = _cli(tree, work, ["device", "activate", json.loads(_last_json(r))["release"], "--root", str(root),
                                 "--no-restart"], 60)
    served = _cli(tree, work, ["device", "serve", "--root", str(root)], 60)
    served["peak_rss_mb"] = max(r["peak_rss_mb"], activate["peak_rss_mb"], served["peak_rss_mb"])
    return served


def _last_json(r: dict) -> str:
    return r.get("stdout", "") or "{}"


def cases(tree: Path, work: Path, inp: dict[str, Path]) -> dict[str, dict]:
    root = str(work / "root")
    out = {
        "15-byte labels file, `info --labels`": _cli(tree, work, ["info", str(MODEL), "--labels", str(inp["labels"])],
                                                     120),
        "15-byte labels inside the model, `info`": _cli(tree, work, ["info", str(inp["inside"])], 120),
        "15-byte labels file in a bundle, `device install` then `serve`": _bundle_served(tree, work, inp["bundle"]),
        "tar of 850,000 headers (1.9 MB), `device install`": _cli(
            tree, work, ["device", "install", str(inp["headers"]), "--root", root], 120),
        "tar with a 512 MB GNU long name (0.5 MB), `device install`": _cli(
            tree, work, ["device", "install", str(inp["longname"]), "--root", root], 120),
        "packerOut.zip of 1.3 M directory records (0.2 MB bundle), `device install`": _cli(
            tree, work, ["device", "install", str(inp["packer"]), "--root", root], 120),
        "model listing 200,000 tensors (0.8 MB), `info`": _cli(tree, work, ["info", str(inp["tensors"])], 120),
        "samples index of 800,000 lines, `device status`": _cli(
            tree, work, ["device", "status", "--root", str(inp["samples_root"]), "--json"], 120),
        "samples index of 800,000 lines and a 700 MB sample, `device samples export`": _cli(
            tree, work, ["device", "samples", "export", "--root", str(inp["samples_root"])], 120),
    }
    for kind, what in (("endless", "an endless MJPEG part"), ("huge", "an MJPEG part announcing 4 GB")):
        with mjpeg_server(kind) as cam:
            out[f"{what}, `run` for 20 s"] = _cli(tree, work, ["run", str(MODEL), "--source",
                                                               f"http://127.0.0.1:{cam.port}/s.mjpg", "--no-stdout"],
                                                  20)
    with mqtt_broker_huge_publish() as broker:
        out["a broker announcing a 256 MB PUBLISH, `run --mqtt` for 15 s"] = _cli(
            tree, work, ["run", str(MODEL), "--source", str(inp["frame"]), "--loop", "--no-stdout", "--quiet",
                         "--mqtt", f"mqtt://127.0.0.1:{broker.port}/t"], 15)
    return out


def _ended(r: dict) -> str:
    if r["terminated"]:
        return "kept running (SIGTERM)"
    errors = [ln for ln in r["stderr"].splitlines() if ln.startswith("error:")]
    if "Traceback" in r["stderr"]:
        return "traceback"
    return f"exit {r['code']}" + (" (one error line)" if len(errors) == 1 else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, help="another checkout (e.g. a worktree of an older commit)")
    ap.add_argument("--json", type=Path, help="also write the measurements here")
    args = ap.parse_args()
    trees = {"after": REPO, **({"before": args.before.resolve()} if args.before else {})}
    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="hostile-rss-") as tmp:
        inputs = _inputs(Path(tmp))
        for name, tree in trees.items():
            work = Path(tmp) / name
            work.mkdir()
            results[name] = cases(tree, work, inputs)
    print("| case | before MB | after MB | before/after | before ended | after ended |")
    print("|---|---|---|---|---|---|")
    for case, after in results["after"].items():
        before = results.get("before", {}).get(case)
        b = f"{before['peak_rss_mb']:.0f}" if before else ""
        ratio = f"{before['peak_rss_mb'] / after['peak_rss_mb']:.1f}x" if before else ""
        print(f"| {case} | {b} | {after['peak_rss_mb']:.0f} | {ratio} | {_ended(before) if before else ''} | "
              f"{_ended(after)} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
