"""[TF] ``edgevision demo``: the whole product on the embedded shapes dataset, end to end.

generate data -> train -> convert to int8 and gate the drop -> play held-out images as a
video through the real-time pipeline -> benchmark -> HTML report. Each step is the same
code the individual commands run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from edgevision.bench.latency import bench_model
from edgevision.convert.conversion import ConvertOptions, convert_run
from edgevision.demo.shapes import generate, write_video
from edgevision.pipeline.realtime import Pipeline, PipelineOptions
from edgevision.report.html import Section, write_report
from edgevision.report.plots import accuracy_bars, confusion, latency_hist, training_curves
from edgevision.runtime.classifier import Classifier, ClassifierOptions
from edgevision.runtime.interpreter import default_threads
from edgevision.sinks.jsonl import JsonlSink
from edgevision.sources.frame_sources import CaptureSource
from edgevision.train.recipe import Augment, Recipe
from edgevision.train.trainer import train

# Light augmentation: shapes are already varied, and heavy geometric jitter slows a 2-core run.
DEMO_RECIPE = Recipe(name="demo_shapes", arch="small_cnn", size=32, epochs=35, batch_size=32, learning_rate=1e-3,
                     dropout=0.2, patience=8, resize="area",
                     augment=Augment(flip=True, rotation=0.02, zoom=0.0, translate=0.0, brightness=0.05, contrast=0.0))
VIDEO_FRAMES = 100
VIDEO_FPS = 20.0


@dataclass(frozen=True)
class DemoOptions:
    out: Path = Path("demo-output")
    epochs: int | None = None
    images_per_class: int | None = None   # training images per class (default: the dataset's 300)
    max_drop: float = 1.0
    bench_runs: int = 300


def run_demo(options: DemoOptions, console: Console | None = None) -> dict[str, Any]:
    con = console or Console()
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    recipe = DEMO_RECIPE.override(epochs=options.epochs)

    con.rule("[bold]1/6 data")
    per_split = None
    if options.images_per_class:
        n = options.images_per_class
        per_split = {"train": n, "val": max(10, n // 5), "test": max(10, n // 5)}
    with con.status("generating the shapes dataset"):
        data = generate(out / "data" / "shapes", size=recipe.size, per_split=per_split)
    con.print(f"shapes dataset: {data}")

    con.rule("[bold]2/6 train")
    trained = train(data, out / "run", recipe, con)
    con.print(f"keras test accuracy {trained.metrics['test']['accuracy']:.3f} in {trained.elapsed_s:.0f} s")

    con.rule("[bold]3/6 convert to int8 and validate on the device runtime")
    report = convert_run(trained.out_dir, ConvertOptions(quant="int8", max_drop=options.max_drop), con)
    v = report["variants"]
    verdict = "[green]passed[/]" if report["passed"] else "[red]FAILED[/]"
    con.print(f"float32 {v['float32']['accuracy']:.3f} -> int8 {v['int8']['accuracy']:.3f}: drop "
              f"{report['drop_points']:.2f} points, budget {report['budget_points']} {verdict}; agreement "
              f"{report['agreement']:.3f}; size x{v['int8']['size_bytes'] / v['float32']['size_bytes']:.2f}")
    int8_path, float_path = Path(v["int8"]["path"]), Path(v["float32"]["path"])

    con.rule("[bold]4/6 live labels from a video of held-out images")
    video_stats = _play_video(int8_path, data, out, con)

    con.rule("[bold]5/6 benchmark")
    benches = {name: bench_model(p, runs=options.bench_runs, warmup=20) for name, p in
               (("int8", int8_path), ("float32", float_path))}
    t = Table("model", "p50 ms", "p90 ms", "p99 ms", "FPS", "size KiB", title="invoke() latency on this machine")
    for name, b in benches.items():
        t.add_row(name, f"{b.invoke.p50:.3f}", f"{b.invoke.p90:.3f}", f"{b.invoke.p99:.3f}", f"{b.invoke.fps:.0f}",
                  f"{b.size_bytes / 1024:.1f}")
    con.print(t)

    con.rule("[bold]6/6 report")
    report_path = _report(out, trained.classes, trained.history, report, benches, video_stats)
    summary = {"data": str(data), "run": str(trained.out_dir), "model_int8": str(int8_path),
               "model_float32": str(float_path), "convert_report": str(int8_path.parent / "convert_report.json"),
               "labels": str(out / "labels.jsonl"), "video_file": str(out / "heldout.avi"), "report": str(report_path),
               "keras_test_accuracy": trained.metrics["test"]["accuracy"], "float32_accuracy": v["float32"]["accuracy"],
               "int8_accuracy": v["int8"]["accuracy"], "drop_points": report["drop_points"],
               "passed": report["passed"], "video": video_stats,
               "int8_p50_ms": benches["int8"].invoke.p50, "float32_p50_ms": benches["float32"].invoke.p50}
    (out / "demo_summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    where = Table("what", "where", title="edgevision demo: outputs")
    for key in ("data", "run", "model_int8", "model_float32", "convert_report", "labels", "report"):
        where.add_row(key, summary[key])
    con.print(where)
    return summary


def _play_video(model: Path, data: Path, out: Path, con: Console) -> dict[str, Any]:
    test_dir = data / "test"
    images = sorted(p for p in test_dir.rglob("*.png"))
    images = [images[(i * 7919) % len(images)] for i in range(min(VIDEO_FRAMES, len(images)))]  # mixed classes
    truth = [p.parent.name for p in images]
    video = write_video(images, out / "heldout.avi", fps=VIDEO_FPS)
    clf = Classifier(model, options=ClassifierOptions(top_k=2, threads=default_threads(capture_thread=True)))
    source = CaptureSource(str(video), live=False, kind="video")
    pipeline = Pipeline(clf, source, PipelineOptions(realtime=True))
    correct = 0
    labels_file = out / "labels.jsonl"
    labels_file.unlink(missing_ok=True)
    sink = JsonlSink(labels_file)
    try:
        for ev in pipeline.events():
            sink.emit(ev)
            ok = ev.label == truth[ev.frame]
            correct += ok
            con.print(f"frame {ev.frame:3d} [bold]{ev.label:<8}[/] {ev.score:.2f} truth {truth[ev.frame]:<8} "
                      f"{'[green]ok  [/]' if ok else '[red]miss[/]'} infer {ev.ms['infer']:.2f} ms "
                      f"latency {ev.latency_ms:.1f} ms", highlight=False)
    finally:
        sink.close()
    s = pipeline.stats
    stats = {"frames": s.frames, "dropped": s.dropped, "fps": round(s.fps, 1),
             "accuracy": round(correct / s.frames, 4) if s.frames else 0.0}
    con.print(f"{s.frames} labels at {s.fps:.1f} FPS (video {VIDEO_FPS:.0f} FPS), {s.dropped} dropped, "
              f"{stats['accuracy']:.3f} correct")
    return stats


def _report(out: Path, classes: tuple[str, ...], history: dict[str, list[float]], conv: dict[str, Any],
            benches: dict[str, Any], video: dict[str, Any]) -> Path:
    rdir = out / "report"
    rdir.mkdir(exist_ok=True)
    v = conv["variants"]
    rows: list[tuple[str, ...]] = [("variant", "accuracy", "drop (pts)", "agreement", "size KiB", "p50 ms")]
    for name, var in v.items():
        rows.append((name, f"{var['accuracy']:.4f}", f"{var['drop_points']:.2f}", f"{var['agreement']:.3f}",
                     f"{var['size_bytes'] / 1024:.1f}", f"{benches[name].invoke.p50:.3f}" if name in benches else ""))
    sections = [
        Section("Training", "Loss and accuracy per epoch (train and validation).",
                training_curves(history, rdir / "training_curves.png")),
        Section("Float vs int8", f"Scored on {conv['images']} {conv['split']} images through the device runtime. "
                f"Gate: drop {conv['drop_points']:.2f} points, budget {conv['budget_points']}: "
                f"{'passed' if conv['passed'] else 'FAILED'}.", accuracy_bars(v, rdir / "float_vs_int8.png"),
                tuple(rows)),
        Section("Confusion matrix (int8)", "", confusion(v["int8"]["confusion"], classes, rdir / "confusion_int8.png",
                                                           "int8 model, held-out images")),
        Section("Latency", "invoke() latency histogram on this machine.",
                latency_hist({k: b.samples_ms for k, b in benches.items()}, rdir / "latency.png")),
        Section("Live run", f"{video['frames']} labels from a {VIDEO_FPS:.0f} FPS video at {video['fps']} FPS, "
                f"{video['dropped']} frames dropped, {video['accuracy']:.3f} correct."),
    ]
    return write_report(rdir / "index.html", "edgevision demo report", sections)
