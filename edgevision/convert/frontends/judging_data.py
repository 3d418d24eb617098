"""The labels and images a brought model is judged on: the model's class order, matched by name.

A labelled folder's class names must be among the labels (a mismatch names the classes);
samples are re-indexed to the model's outputs. An unlabelled folder is used whole, for
calibration and for the gate; its labels are the original model's own top-1, so the gate measures
agreement with the model the user brought. No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edgevision.data.discover import Dataset, Sample, discover
from edgevision.errors import BadInput
from edgevision.model.labels import is_background, label_ids, read_labels, repeated
from edgevision.runtime.images import is_image_path


def model_labels(origin: str, outputs: int, labels_file: Path | None, carried: Sequence[str] | None,
                 drop_first: bool, unlabelled: bool) -> tuple[tuple[str, ...], str]:
    """The label of each output, and where it came from; refuses counts that do not match.

    Repeated names are allowed (ImageNet has two 'crane'); a first entry named like a background class
    (``background``, ``???``) in a list one longer than the outputs is dropped, as the file means it.
    """
    if labels_file is not None:
        labels, where = read_labels(labels_file, expected=outputs), str(labels_file)
    elif carried:
        labels, where = tuple(carried), f"{origin} (TFLite Metadata)"
    elif unlabelled:
        return tuple(str(i) for i in range(outputs)), "output indices (no --labels)"
    else:
        raise BadInput(f"{origin}: the model carries no labels; pass --labels FILE with one label per output, in the "
                       "model's output order (plain lines, 'N name' or 'N: name')")
    if drop_first:
        if len(labels) != outputs + 1:
            raise BadInput(f"{where}: --drop-first-label needs exactly one label more than the model's {outputs} "
                           f"outputs; the file has {len(labels)}")
        return labels[1:], f"{where} (first label {labels[0]!r} dropped: --drop-first-label)"
    if len(labels) == outputs + 1 and is_background(labels[0]):
        return labels[1:], f"{where} (first label {labels[0]!r} is a background entry the model does not output)"
    if len(labels) == outputs + 1:
        raise BadInput(f"{where}: {len(labels)} labels for {outputs} outputs; the first ({labels[0]!r}) is probably a "
                       "background entry the model does not output. Pass --drop-first-label to map label 2 to "
                       "output 1, or fix the file")
    if len(labels) != outputs:
        raise BadInput(f"{where}: {len(labels)} labels but the model has {outputs} outputs")
    return labels, where


def labelled_dataset(data: Path, classes: Sequence[str], labels_where: str) -> Dataset:
    """Folder classes re-indexed to the model's outputs; every folder must name a label."""
    ds = discover(data)
    twice = repeated(classes)
    index = {name: i for i, name in enumerate(classes) if name not in twice}
    index.update({key: i for i, key in enumerate(label_ids(classes)) if classes[i] in twice})
    ambiguous = [c for c in ds.classes if c in twice]
    if ambiguous:
        name = ambiguous[0]
        raise BadInput(f"{data}: class folder {name!r} matches {len(twice[name])} outputs of the model (indices "
                       f"{', '.join(map(str, twice[name]))}); name the folder {name!r} + ' #INDEX', e.g. "
                       f"{label_ids(classes)[twice[name][0]]!r}")
    unknown = [c for c in ds.classes if c not in index]
    if unknown:
        raise BadInput(f"{data}: class folder(s) {', '.join(unknown[:5])} are not among the model's labels "
                       f"({labels_where}: {', '.join(classes[:5])}{', ...' if len(classes) > 5 else ''})")

    def remap(samples: Sequence[Sample]) -> tuple[Sample, ...]:
        return tuple(Sample(s.path, index[ds.classes[s.label]]) for s in samples)

    return Dataset(ds.root, tuple(classes), remap(ds.train), remap(ds.val), remap(ds.test), ds.split_mode)


def unlabelled_images(data: Path) -> list[str]:
    """Every image under ``data``, sorted: an unlabelled folder calibrates and gates on all of them.

    Calibration only measures activation ranges (no parameter is fitted to the images), and more
    images give truer ranges; the gate then compares int8 with the float model on the same images,
    against the float model's own noise floor measured on those images too.
    """
    if not data.is_dir():
        raise BadInput(f"{data}: data folder not found")
    files = sorted(str(p) for p in data.rglob("*") if p.is_file() and is_image_path(p))
    if len(files) < 2:
        raise BadInput(f"{data}: {len(files)} image(s) found; calibration and the agreement gate need at least 2")
    return files
