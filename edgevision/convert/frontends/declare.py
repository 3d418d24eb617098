"""The preprocessing a brought model expects: read from the model or stated by the user, never guessed.

Order of authority: what the model itself declares (a Keras ``Rescaling``/``Normalization``
layer at its input, TFLite Metadata), then a named preset for a well-known source, then
explicit ``--norm``/``--crop``/``--resize``. A flag that contradicts the model's own
declaration is refused rather than silently applied twice. No TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from edgevision.errors import BadInput
from edgevision.model.spec import CROPS, NORMALIZATIONS, RESIZES, PreprocessSpec

# On 0..255 pixels: x' = (x - mean) / std.
IMAGENET = ((0.485 * 255, 0.456 * 255, 0.406 * 255), (0.229 * 255, 0.224 * 255, 0.225 * 255))
NORMS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    **{k: ((m,), (s,)) for k, (m, s) in NORMALIZATIONS.items()},
    "imagenet": IMAGENET,
}


@dataclass(frozen=True)
class Preset:
    """How a well-known tool prepares images for the models it exports."""

    norm: str
    crop: str
    resize: str
    size: int | None
    note: str


PRESETS: dict[str, Preset] = {
    # Teachable Machine: a centre square crop of the frame, scaled to [-1, 1], 224x224.
    "teachable-machine": Preset("symmetric", "center", "bilinear", 224, "Teachable Machine image project export"),
    # torchvision's ImageNet weights: mean/std normalization. Its eval transform (Resize 256, CenterCrop 224)
    # also drops a 12.5% border; edgevision's centre crop keeps the largest centred square.
    "torchvision": Preset("imagenet", "center", "bilinear", None, "torchvision ImageNet normalization"),
    # keras.applications MobileNet/MobileNetV2/V3-small 'preprocess_input': [-1, 1], whole frame resized.
    "keras-mobilenet": Preset("symmetric", "squash", "bilinear", None, "keras.applications MobileNet preprocess_input"),
    # keras.applications EfficientNet / ResNet-RS / ConvNeXt: the model normalizes inside, feed 0..255.
    "keras-efficientnet": Preset("raw", "squash", "bilinear", None, "keras.applications EfficientNet (0..255 in)"),
    # keras.applications ResNet50 'caffe' style is BGR with mean subtraction: not a preset (BGR + mean only).
    "unit": Preset("unit", "squash", "bilinear", None, "0..1 pixels (x / 255)"),
}


@dataclass(frozen=True)
class Declared:
    """What the user said on the command line (all optional)."""

    preset: str | None = None
    norm: str | None = None
    crop: str | None = None
    resize: str | None = None
    size: tuple[int, int] | None = None   # (width, height), needed when the model's input size is dynamic


def parse_norm(text: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``unit|symmetric|imagenet|raw`` or ``MEAN,STD`` / ``M1,M2,M3,S1,S2,S3`` on 0..255 pixels."""
    if text in NORMS:
        return NORMS[text]
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) == 2:
        return (values[0],), (values[1],)
    if len(values) == 6:
        return tuple(values[:3]), tuple(values[3:])
    raise BadInput(f"--norm {text}: use one of {', '.join(NORMS)}, or MEAN,STD (or 3 means and 3 stds) "
                   "on 0..255 pixel values")


def parse_size(text: str) -> tuple[int, int]:
    """``224`` or ``WxH``."""
    parts = text.lower().split("x")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) == 1:
        nums = nums * 2
    if len(nums) != 2 or min(nums) < 8 or max(nums) > 4096:
        raise BadInput(f"--size {text}: use N or WxH with 8..4096 pixels")
    return nums[0], nums[1]


def check_declared(d: Declared) -> None:
    if d.preset is not None and d.preset not in PRESETS:
        raise BadInput(f"--preset {d.preset}: choose one of {', '.join(PRESETS)}")
    if d.preset and d.norm:
        raise BadInput("--preset and --norm both set: a preset already names the normalization; use one")
    if d.norm:
        parse_norm(d.norm)
    if d.crop is not None and d.crop not in CROPS:
        raise BadInput(f"--crop {d.crop}: choose one of {', '.join(CROPS)}")
    if d.resize is not None and d.resize not in RESIZES:
        raise BadInput(f"--resize {d.resize}: choose one of {', '.join(RESIZES)}")


def decide_spec(origin: str, model_size: tuple[int | None, int | None], channels: int,
                from_model: tuple[tuple[float, ...], tuple[float, ...], str] | None,
                declared: Declared) -> tuple[PreprocessSpec, dict[str, Any]]:
    """The spec to embed, and a record of where each part came from (goes into the model card).

    ``from_model`` is (mean, std, where) when the model carries its normalization itself.
    """
    check_declared(declared)
    preset = PRESETS.get(declared.preset or "")
    how: dict[str, Any] = {}
    if from_model is not None:
        mean, std, where = from_model
        if declared.norm and parse_norm(declared.norm) != (mean, std):
            raise BadInput(f"{origin}: the model declares its own normalization ({where}); --norm {declared.norm} "
                           "would normalize twice. Drop --norm")
        if preset and NORMS[preset.norm] != (mean, std):
            raise BadInput(f"{origin}: the model declares its own normalization ({where}), which --preset "
                           f"{declared.preset} ({preset.norm}) contradicts. Drop --preset or use --crop/--size")
        how["norm"] = where
    elif declared.norm:
        mean, std = parse_norm(declared.norm)
        how["norm"] = f"--norm {declared.norm}"
    elif preset:
        mean, std = NORMS[preset.norm]
        how["norm"] = f"--preset {declared.preset} ({preset.norm})"
    else:
        raise BadInput(f"{origin}: nothing declares the input normalization (no Rescaling/Normalization layer at the "
                       f"input, no TFLite metadata); say it: --preset {'|'.join(PRESETS)} or --norm "
                       "unit|symmetric|imagenet|raw|MEAN,STD")
    for name, values in (("mean", mean), ("std", std)):
        if len(values) not in (1, channels):
            raise BadInput(f"{origin}: the normalization's {name} has {len(values)} values ({how['norm']}) but the "
                           f"model takes {channels} channel{'s' if channels > 1 else ''}; give one value, or one per "
                           "channel")
    w, h = model_size
    if w is None or h is None:
        size = declared.size or ((preset.size, preset.size) if preset and preset.size else None)
        if size is None:
            raise BadInput(f"{origin}: the model's input height/width are dynamic; give the size with --size WxH")
        w, h = size
        how["size"] = "--size" if declared.size else f"--preset {declared.preset}"
    else:
        if declared.size and declared.size != (w, h):
            raise BadInput(f"{origin}: --size {declared.size[0]}x{declared.size[1]} contradicts the model's fixed "
                           f"input {w}x{h}")
        how["size"] = "model input"
    crop = declared.crop or (preset.crop if preset else "squash")
    resize = declared.resize or (preset.resize if preset else "bilinear")
    how["crop"] = "--crop" if declared.crop else (f"--preset {declared.preset}" if preset else "default (squash)")
    how["resize"] = "--resize" if declared.resize else (f"--preset {declared.preset}" if preset else
                                                         "default (bilinear)")
    spec = PreprocessSpec(width=int(w), height=int(h), channels=channels, crop=crop, resize=resize)
    return replace(spec, mean=tuple(mean), std=tuple(std)), how
