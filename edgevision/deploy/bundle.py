"""Make a bundle on the desktop: the model, its runtime configuration for a device profile, a manifest.

Checks that belong to the desktop happen here, where the user can still fix them: the file is a
TFLite model, it has labels, and it suits the profile's delegate (a Coral profile refuses a model
that edgetpu_compiler has not compiled, a CPU profile refuses one that it has).
"""

from __future__ import annotations

import json
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from edgevision.deploy.bundle_write import write_bundle
from edgevision.errors import BadInput, CheckFailed
from edgevision.profiles import Profile
from edgevision.releases.archive import is_archive
from edgevision.releases.manifest import MANIFEST, RUNTIME, Manifest, file_entry
from edgevision.releases.runtime_config import RuntimeConfig, ServiceSettings, Sink, is_plain_name, with_profile_sinks
from edgevision.version import __version__

LABELS_NAME = "labels.txt"


@dataclass(frozen=True)
class BundleOptions:
    """``edgevision bundle`` overrides; None means "what the profile says"."""

    source: str | None = None
    sinks: tuple[Sink, ...] = ()
    threads: int | None = None
    delegate: str | None = None
    top_k: int = 3
    threshold: float | None = None
    smooth: int = 1
    loop: bool = False
    labels: Path | None = None


def check_model_for_delegate(model: Path, data: bytes, delegate: str, profile: Profile) -> bool:
    """Refuse a model the delegate cannot run; return whether it is Edge TPU compiled."""
    from edgevision.model.opcodes import is_edgetpu_model

    compiled = is_edgetpu_model(data)
    uses_tpu = delegate.startswith("edgetpu")
    if (uses_tpu or profile.requires_edgetpu_model) and not compiled:
        raise BadInput(f"{model}: not compiled for the Edge TPU, which profile {profile.name} (delegate {delegate}) "
                       f"needs; run the converter's Edge TPU step (edgetpu_compiler {model.name}) and bundle the "
                       "resulting *_edgetpu.tflite")
    if compiled and not uses_tpu:
        raise BadInput(f"{model}: compiled for the Edge TPU but profile {profile.name} runs on the CPU; use a "
                       "coral profile (--profile coral-usb) or the model from before edgetpu_compiler")
    return compiled


def make_bundle(model: Path, profile: Profile, options: BundleOptions, out: Path, force: bool = False) -> Manifest:
    """Write a bundle directory, or a .tar.gz when ``out`` ends with .tar.gz/.tgz."""
    from edgevision.model.artifact import load_artifact
    from edgevision.model.tflite_file import read_model_bytes
    from edgevision.runtime.backends import release_hook

    backend_bundle = release_hook(profile, "make_bundle")
    if backend_bundle is not None:  # a backend whose model is not a .tflite (a sensor's network) bundles its own
        return backend_bundle(model, profile, options, out, force)  # type: ignore[no-any-return]
    data = read_model_bytes(model)
    delegate = options.delegate or profile.delegate
    compiled = check_model_for_delegate(model, data, delegate, profile)
    artifact = load_artifact(model, options.labels)
    if not artifact.labels:
        raise BadInput(f"{model}: the model carries no labels; pass --labels FILE")
    service = ServiceSettings.from_profile_extra(profile.extra, f"profile {profile.name}")
    name = model.name if is_plain_name(model.name) and model.suffix == ".tflite" else "model.tflite"
    runtime = RuntimeConfig(
        model=name, source=options.source or profile.source, delegate=delegate,
        threads=profile.threads if options.threads is None else options.threads, top_k=options.top_k,
        threshold=options.threshold, smooth=options.smooth, loop=options.loop,
        labels=LABELS_NAME if options.labels else None,
        sinks=with_profile_sinks(profile.extra, tuple(options.sinks), f"profile {profile.name}"))
    payload = {name: data, RUNTIME: (json.dumps(runtime.to_dict(), indent=2, sort_keys=True) + "\n").encode()}
    if options.labels:
        payload[LABELS_NAME] = ("\n".join(artifact.labels) + "\n").encode()
    files = {n: file_entry(b) for n, b in sorted(payload.items())}
    prof = {"name": profile.name, "board": profile.board, "arch": profile.arch, "delegate": profile.delegate,
            "requires_edgetpu_model": profile.requires_edgetpu_model, "service": service.to_dict()}
    card = artifact.card
    manifest = Manifest(
        id=Manifest.compute_id(prof, runtime, files), created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        edgevision=__version__, profile=prof, runtime=runtime, files=files,
        model={"name": artifact.name, "file": name, "labels": len(artifact.labels), "edgetpu_compiled": compiled,
               "accuracy": (card.validation or {}).get("accuracy") if card else None})
    payload[MANIFEST] = manifest.to_json()
    write_bundle(payload, out, force)
    return manifest


def read_manifest(bundle: Path) -> Manifest:
    """The manifest a bundle claims, read without extracting anything (the device does the verifying)."""
    if bundle.is_dir():
        path = bundle / MANIFEST
        if not path.is_file():
            raise BadInput(f"{bundle}: no {MANIFEST}; not a bundle (make one with `edgevision bundle`)")
        return _parse(path.read_bytes(), str(path))
    if not bundle.is_file():
        raise BadInput(f"{bundle}: not found")
    if not is_archive(bundle):
        raise BadInput(f"{bundle}: expected a bundle directory or .tar.gz, or a .tflite model")
    try:
        with tarfile.open(bundle, "r:gz") as tf:
            for m in tf:
                if m.isfile() and m.name in (MANIFEST, f"./{MANIFEST}"):
                    fh = tf.extractfile(m)
                    return _parse(fh.read() if fh else b"", f"{bundle}:{MANIFEST}")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BadInput(f"{bundle}: not a readable .tar.gz ({exc})") from None
    raise BadInput(f"{bundle}: no {MANIFEST} inside; not a bundle")


def _parse(raw: bytes, origin: str) -> Manifest:
    try:
        return Manifest.from_json(raw, origin)
    except CheckFailed as exc:
        raise BadInput(str(exc)) from None
