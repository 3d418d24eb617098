"""``edgevision bench MODEL``: latency percentiles and FPS on this machine."""

from __future__ import annotations

from pathlib import Path

import typer

from edgevision.cli.common import err_console, handle_errors, out_console, print_json


def register(app: typer.Typer) -> None:
    @app.command(epilog="Examples:\n\n  edgevision bench model_int8.tflite\n\n"
                        "  edgevision bench model_int8.tflite model_float32.tflite --threads 1 --threads 4 --json")
    @handle_errors
    def bench(
        models: list[Path] = typer.Argument(..., help="One or more .tflite files."),
        runs: int = typer.Option(100, "--runs", min=1, help="Timed invoke() calls per configuration."),
        warmup: int = typer.Option(10, "--warmup", min=0, help="Untimed calls first."),
        threads: list[int] | None = typer.Option(None, "--threads", min=1, help="Thread counts to sweep."),
        delegate: str | None = typer.Option(None, "--delegate", help="cpu (default) or edgetpu[:usb:0|:pci:0]."),
        labels: Path | None = typer.Option(None, "--labels", help="Labels file for models without one."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Measure model latency after warm-up: p50/p90/p99, mean, std, FPS, init time, peak RSS."""
        from rich.table import Table

        from edgevision.bench.latency import bench_model

        results = []
        with err_console().status("benchmarking") as status:
            for model in models:
                for n in threads or [None]:
                    status.update(f"benchmarking {model.name} ({n or 'default'} threads)")
                    results.append(bench_model(model, runs=runs, warmup=warmup, threads=n, delegate=delegate,
                                               labels=labels))
        if json_out:
            print_json([r.to_dict() for r in results])
            return
        t = Table("model", "threads", "p50 ms", "p90 ms", "p99 ms", "mean ms", "std ms", "FPS", "init ms",
                  "peak RSS MB", "size KiB", title=f"invoke() latency, {runs} runs after {warmup} warm-up")
        for r in results:
            s = r.invoke
            t.add_row(Path(r.model).name, str(r.threads), f"{s.p50:.3f}", f"{s.p90:.3f}", f"{s.p99:.3f}",
                      f"{s.mean:.3f}", f"{s.std:.3f}", f"{s.fps:.1f}", f"{r.init_ms:.1f}", f"{r.peak_rss_mb:.0f}",
                      f"{r.size_bytes / 1024:.1f}")
        out_console().print(t)
