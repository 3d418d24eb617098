"""Bundle an IMX500 network (``edgevision convert --target imx500`` output) for the ``rpi-ai-camera`` profile.

The bundle is data like every other: packerOut.zip, labels.txt and imx500.json, each hashed in
the manifest; the runtime config names ``network.rpk``, which the device makes from
packerOut.zip at install time (imx500_release). Checked here, where the user can still fix it:
the folder has all three files, the card is an IMX500 card whose labels and packerOut.zip
match, and the converter's gate passed (a failed gate is reported, not shipped silently).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from edgevision.errors import BadInput, CheckFailed
from edgevision.imx500.rpk_release import BACKEND, CARD, LABELS, PACKER, RPK, SOURCE, check_packer
from edgevision.profiles import Profile
from edgevision.releases.manifest import MANIFEST, RUNTIME, Manifest, file_entry
from edgevision.releases.runtime_config import RuntimeConfig, ServiceSettings, with_profile_sinks
from edgevision.version import __version__

MAX_LABELS_BYTES = 4 << 20


def imx500_folder(model: Path) -> Path:
    """The convert output folder, given as itself, its packerOut.zip or its imx500.json."""
    if not model.is_dir() and model.name not in (PACKER, CARD):
        raise BadInput(f"{model}: for an IMX500 profile bundle the folder written by `edgevision convert RUN "
                       f"--target imx500`, or its {PACKER}")
    folder = model if model.is_dir() else model.parent
    missing = [n for n in (PACKER, CARD, LABELS) if not (folder / n).is_file()]
    if missing:
        raise BadInput(f"{folder}: missing {', '.join(missing)}; bundle the folder written by "
                       "`edgevision convert RUN --target imx500` (RUN/export/NAME_imx500)")
    return folder


def make_imx500_bundle(model: Path, profile: Profile, options: object, out: Path, force: bool = False) -> Manifest:
    from edgevision.deploy.bundle_write import write_bundle
    from edgevision.imx500.sensor_backend import read_card
    from edgevision.model.labels import labels_sha256, read_labels

    folder = imx500_folder(model)
    card = read_card(folder / CARD)
    packer = (folder / PACKER).read_bytes()
    try:
        check_packer(packer, str(folder / PACKER))
    except CheckFailed as exc:  # on the desktop a bad file is bad input
        raise BadInput(str(exc)) from None
    if card["target"].get("packer_sha256") not in (None, hashlib.sha256(packer).hexdigest()):
        raise BadInput(f"{folder / PACKER}: not the packerOut.zip {CARD} describes (convert again)")
    if (folder / LABELS).stat().st_size > MAX_LABELS_BYTES:
        raise BadInput(f"{folder / LABELS}: larger than {MAX_LABELS_BYTES} bytes")
    labels = read_labels(folder / LABELS)
    if card.get("labels_sha256") not in (None, labels_sha256(list(labels))):
        raise BadInput(f"{folder / LABELS}: does not match the labels in {CARD}")
    validation = card.get("validation") or {}
    if validation.get("passed") is False:
        raise CheckFailed(f"{folder}: the converter's accuracy gate failed for this network (drop "
                          f"{validation.get('drop_points')} points, budget {validation.get('budget_points')}); "
                          "fix the conversion before deploying it")
    service = ServiceSettings.from_profile_extra(profile.extra, f"profile {profile.name}")
    opts = options
    runtime = RuntimeConfig(
        model=RPK, source=getattr(opts, "source", None) or profile.source or SOURCE, delegate="cpu", threads=0,
        top_k=getattr(opts, "top_k", 3), threshold=getattr(opts, "threshold", None),
        smooth=getattr(opts, "smooth", 1), loop=False, labels=LABELS,
        sinks=with_profile_sinks(profile.extra, tuple(getattr(opts, "sinks", ())), f"profile {profile.name}"))
    payload = {PACKER: packer, LABELS: (folder / LABELS).read_bytes(), CARD: (folder / CARD).read_bytes(),
               RUNTIME: (json.dumps(runtime.to_dict(), indent=2, sort_keys=True) + "\n").encode()}
    files = {n: file_entry(b) for n, b in sorted(payload.items())}
    prof = {"name": profile.name, "board": profile.board, "arch": profile.arch, "delegate": profile.delegate,
            "backend": BACKEND, "requires_edgetpu_model": False, "service": service.to_dict()}
    manifest = Manifest(
        id=Manifest.compute_id(prof, runtime, files), created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        edgevision=__version__, profile=prof, runtime=runtime, files=files,
        model={"name": card.get("name"), "file": PACKER, "labels": len(labels), "edgetpu_compiled": False,
               "target": "imx500", "accuracy": validation.get("accuracy"),
               "memory": (card["target"].get("memory") or {})})
    payload[MANIFEST] = manifest.to_json()
    write_bundle(payload, out, force)
    return manifest
