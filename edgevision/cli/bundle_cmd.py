"""``edgevision bundle MODEL --profile P``: the model, its runtime config for a board, and a manifest."""

from __future__ import annotations

from pathlib import Path

import typer

from edgevision.cli.common import handle_errors, out_console, print_json


def register(app: typer.Typer) -> None:
    @app.command(epilog="Examples:\n\n  edgevision bundle runs/shapes/export/shapes_int8.tflite --profile rpi5\n\n"
                        "  edgevision bundle model_edgetpu.tflite --profile coral-usb --source 0 --out coral.tar.gz\n\n"
                        "  edgevision bundle model.tflite --profile rpi4 --sink mqtt=mqtt://broker.local/cam1 "
                        "--out bundle/")
    @handle_errors
    def bundle(
        model: Path = typer.Argument(..., help="A .tflite model (Edge TPU compiled for a Coral profile)."),
        profile: str = typer.Option(..., "--profile", "-p", help="Device profile name or .toml path (rpi4, rpi5, "
                                                                "coral-usb, coral-devboard, x86-64)."),
        out: Path | None = typer.Option(None, "--out", "-o", help="A .tar.gz/.tgz archive, or a directory "
                                                                  "(default MODEL_PROFILE.tar.gz here)."),
        source: str | None = typer.Option(None, "--source", "-s", help="Frame source on the device (default: the "
                                                                       "profile's, e.g. picamera2 or 0)."),
        sink: list[str] | None = typer.Option(None, "--sink", help="Extra sink for `edgevision run`, KIND[=VALUE] "
                                                                   "(e.g. mqtt=mqtt://broker/topic); repeatable."),
        threads: int | None = typer.Option(None, "--threads", min=0, help="Interpreter threads (default: profile)."),
        delegate: str | None = typer.Option(None, "--delegate", help="cpu or edgetpu[:usb|:pci] (default: profile)."),
        top_k: int = typer.Option(3, "--top-k", min=1, help="Classes per label event."),
        threshold: float | None = typer.Option(None, "--threshold", min=0.0, max=1.0,
                                                help="Drop classes scoring below this (0..1)."),
        smooth: int = typer.Option(1, "--smooth", min=1, help="Moving average of scores over K frames."),
        loop: bool = typer.Option(False, "--loop", help="Loop a folder source forever (demos, soak tests)."),
        labels: Path | None = typer.Option(None, "--labels", help="Labels file, for models without embedded labels."),
        force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
        json_out: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
    ) -> None:
        """Package a model for one device profile: nothing executable, every file hashed in the manifest."""
        from edgevision.deploy.bundle import BundleOptions, make_bundle
        from edgevision.profiles import load_profile
        from edgevision.releases.runtime_config import Sink

        prof = load_profile(profile)
        target = out or Path(f"{model.stem}_{prof.name}.tar.gz")
        options = BundleOptions(source=source, sinks=tuple(Sink.parse(s) for s in sink or []), threads=threads,
                                delegate=delegate, top_k=top_k, threshold=threshold, smooth=smooth, loop=loop,
                                labels=labels)
        manifest = make_bundle(model, prof, options, target, force=force)
        if json_out:
            print_json({"path": str(target), **manifest.to_dict()})
            return
        rt = manifest.runtime
        out_console().print(f"bundle [bold]{target}[/]  id {manifest.id}  profile {prof.name}\n"
                            f"  model {rt.model} ({manifest.model['labels']} labels"
                            f"{', Edge TPU compiled' if manifest.model['edgetpu_compiled'] else ''})  "
                            f"source {rt.source}  delegate {rt.delegate}  threads {rt.threads or 'default'}"
                            + (f"  sinks {', '.join(map(str, rt.sinks))}" if rt.sinks else "")
                            + f"\n  deploy it: edgevision deploy {target} USER@HOST --service")
