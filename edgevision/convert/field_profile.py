"""The reference profile a converted model carries into the field (:mod:`edgevision.model.reference_profile`).

Measured on the held-out images the conversion is judged on, through the device's own runtime and for
each variant separately (an int8 model's confidences are not its float reference's): the top-1
confidence and the label of every image, and the input statistics of the image as decoded. The drift
monitor on the device compares live frames with exactly these numbers. No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from edgevision.data.discover import Sample
from edgevision.errors import BadInput
from edgevision.model.profile_signals import CONFIDENCE, INPUT_SIGNALS, PROFILE_FILE
from edgevision.model.reference_profile import MIN_IMAGES, build_profile
from edgevision.runtime.classifier import Classifier, ClassifierOptions
from edgevision.runtime.images import read_image
from edgevision.runtime.input_stats import input_stats


def field_profiles(models: Mapping[str, Path], samples: Sequence[Sample], split: str, threads: int | None = None,
                   on_image: Callable[[], None] | None = None) -> dict[str, dict[str, bytes]]:
    """For each variant, its associated file ``{PROFILE_FILE: json}``; each image is decoded once for all.
    Fewer than MIN_IMAGES readable images say nothing about a distribution: the variants then carry no
    profile (a device can record one, ``edgevision device baseline``)."""
    clfs = {name: Classifier(path, options=ClassifierOptions(threads=threads)) for name, path in models.items()}
    stats: dict[str, list[float]] = {name: [] for name in INPUT_SIGNALS}
    confidence: dict[str, list[float]] = {name: [] for name in clfs}
    labels: dict[str, list[int]] = {name: [] for name in clfs}
    for s in samples:
        try:
            rgb = read_image(s.path)
        except BadInput:
            continue
        finally:
            if on_image is not None:
                on_image()
        for key, value in zip(INPUT_SIGNALS, input_stats(rgb, "RGB"), strict=True):
            stats[key].append(value)
        for name, clf in clfs.items():
            top = clf.classify(rgb, k=1)
            confidence[name].append(top[0].score if top else 0.0)
            labels[name].append(top[0].index if top else -1)
    out: dict[str, dict[str, bytes]] = {}
    for name, clf in clfs.items():
        if len(labels[name]) < MIN_IMAGES:
            out[name] = {}
            clf.close()
            continue
        profile = build_profile({CONFIDENCE: confidence[name], **stats}, labels[name], clf.labels,
                                f"converter: {split} split, {len(labels[name])} images, {name}")
        out[name] = {PROFILE_FILE: profile.to_json().encode("utf-8")}
        clf.close()
    return out
