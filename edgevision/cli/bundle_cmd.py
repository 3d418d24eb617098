"""``edgevision bundle MODEL --profile P``: the model, its runtime config for a board, and a manifest."""

from __future__ import annotations

from pathlib import Path

from edgevision.cli.arguments import Commands, argument, option
from edgevision.cli.common import handle_errors, out_console, print_json

EPILOG = ("Examples:\n\n  edgevision bundle runs/shapes/export/shapes_int8.tflite --profile rpi5\n\n"
          "  edgevision bundle model_edgetpu.tflite --profile coral-usb --source 0 --out coral.tar.gz\n\n"
          "  edgevision bundle model.tflite --profile rpi4 --sink mqtt=mqtt://broker.local/cam1 --out bundle/")


def register(commands: Commands) -> None:
    p = commands.add("bundle", bundle, epilog=EPILOG)
    argument(p, "model", help="A .tflite model (Edge TPU compiled for a Coral profile).")
    option(p, "--profile", "-p", required=True, help="Device profile name or .toml path (rpi4, rpi5, coral-usb, "
                                                     "coral-devboard, x86-64).")
    option(p, "--out", "-o", kind=Path, help="A .tar.gz/.tgz archive, or a directory (default MODEL_PROFILE.tar.gz "
                                             "here).")
    option(p, "--source", "-s", help="Frame source on the device (default: the profile's, e.g. picamera2 or 0).")
    option(p, "--sink", many=True, metavar="KIND[=VALUE]", help="Extra sink for `edgevision run`, KIND[=VALUE] "
                                                                "(e.g. mqtt=mqtt://broker/topic).")
    option(p, "--threads", kind=int, min=0, help="Interpreter threads (default: profile).")
    option(p, "--delegate", help="cpu or edgetpu[:usb|:pci] (default: profile).")
    option(p, "--top-k", kind=int, default=3, min=1, help="Classes per label event.")
    option(p, "--threshold", kind=float, min=0.0, max=1.0, help="Drop classes scoring below this (0..1).")
    option(p, "--smooth", kind=int, default=1, min=1, help="Moving average of scores over K frames.")
    option(p, "--loop", kind=bool, default=False, help="Loop a folder source forever (demos, soak tests).")
    option(p, "--labels", kind=Path, help="Labels file, for models without embedded labels.")
    option(p, "--force", kind=bool, default=False, help="Replace OUT if it exists.")
    option(p, "--json", kind=bool, default=False, dest="json_out", help="Print the manifest as JSON.")


@handle_errors
def bundle(*, model: Path, profile: str, out: Path | None, source: str | None, sink: list[str] | None,
           threads: int | None, delegate: str | None, top_k: int, threshold: float | None, smooth: int, loop: bool,
           labels: Path | None, force: bool, json_out: bool) -> None:
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
    from edgevision.console import inert_markup as e

    rt = manifest.runtime
    out_console().print(f"bundle [bold]{e(target)}[/]  id {e(manifest.id)}  profile {e(prof.name)}\n"
                        f"  model {e(rt.model)} ({e(manifest.model['labels'])} labels"
                        f"{', Edge TPU compiled' if manifest.model['edgetpu_compiled'] else ''})  "
                        f"source {e(rt.source)}  delegate {e(rt.delegate)}  threads {rt.threads or 'default'}"
                        + (f"  sinks {e(', '.join(map(str, rt.sinks)))}" if rt.sinks else "")
                        + f"\n  deploy it: edgevision deploy {e(target)} USER@HOST --service")
