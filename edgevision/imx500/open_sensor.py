"""``edgevision run NETWORK.rpk --source imx500[:WxH]``: the AI Camera source and its sensor backend, paired."""

from __future__ import annotations

from pathlib import Path

from edgevision.errors import BadInput
from edgevision.imx500.sensor_backend import SensorClassifier
from edgevision.imx500.sensor_source import Imx500Source
from edgevision.imx500.source_name import parse_size

RPK_NAME = "network.rpk"


def resolve_network(model: str | Path) -> Path:
    """A .rpk path, or a release folder holding ``network.rpk``."""
    p = Path(model)
    if p.is_dir():
        p = p / RPK_NAME
    if p.suffix != ".rpk":
        raise BadInput(f"{model}: --source imx500 runs an IMX500 network (.rpk), not {p.suffix or 'a folder'}; "
                       "package packerOut.zip with imx500-package on the Pi, or deploy with --profile rpi-ai-camera")
    if not p.is_file():
        raise BadInput(f"{p}: IMX500 network not found")
    return p


def open_imx500(model: str | Path, source: str, labels: str | Path | None, top_k: int,
                threshold: float | None, **source_options: object) -> tuple[Imx500Source, SensorClassifier]:
    network = resolve_network(model)
    clf = SensorClassifier(network, labels, top_k, float("-inf") if threshold is None else threshold)
    # the sensor frames what the network sees: the spec's center crop is the network's aspect ratio on the
    # sensor; squash (edgevision's default) is the full field of view scaled to the input size
    crop = ((clf.card or {}).get("preprocess") or {}).get("crop", "squash")
    source_options.setdefault("center_crop", crop == "center")
    return Imx500Source(network, parse_size(source), **source_options), clf  # type: ignore[arg-type]
