"""Front-ends for models the user already has: each turns a file into a ``BroughtModel``.

Which extra each format needs is listed in ``FORMATS`` (shown by ``edgevision convert --help``).
"""

from __future__ import annotations

from pathlib import Path

from edgevision.errors import BadInput

# format -> (what it reads, the extra it needs)
FORMATS: dict[str, tuple[str, str]] = {
    "keras": (".keras / .h5 (Keras 3)", "train"),
    "keras2": (".h5 (Keras 2 / tf.keras, e.g. Teachable Machine)", "keras2"),
    "savedmodel": ("SavedModel directory", "train"),
    "tflite": ("float .tflite", "train"),
    "onnx": (".onnx", "onnx-source"),
    "pytorch": (".pt2 (torch.export)", "pytorch"),
}


def sniff(path: Path) -> str:
    """The format of ``path`` from what it is (directory, suffix), or a one-line error."""
    if not path.exists():
        raise BadInput(f"{path}: model not found")
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "savedmodel"
        raise BadInput(f"{path}: a directory that is neither a training run (run.json) nor a SavedModel "
                       "(saved_model.pb)")
    if path.stat().st_size == 0:
        raise BadInput(f"{path}: model file is empty")
    suffix = path.suffix.lower()
    by_suffix = {".keras": "keras", ".h5": "keras", ".hdf5": "keras", ".tflite": "tflite", ".onnx": "onnx",
                 ".pt2": "pytorch"}
    if suffix in (".pt", ".pth"):
        raise BadInput(f"{path}: a pickled PyTorch file cannot be loaded safely without its code; export it with "
                       "torch.export.save(torch.export.export(model, (example,)), 'model.pt2'), or call "
                       "edgevision.convert.frontends.torch_src.from_module(model, example) from Python")
    if suffix not in by_suffix:
        raise BadInput(f"{path}: unknown model format {suffix or '(no suffix)'}; expected "
                       + ", ".join(v[0] for v in FORMATS.values()))
    return by_suffix[suffix]
