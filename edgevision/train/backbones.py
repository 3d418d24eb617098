"""[TF] Model architectures. Every model takes float 0..255 RGB and normalizes inside the graph.

Normalizing in the graph means the device feeds raw pixels: an int8 model's uint8 input
then has scale 1 and zero point 0, so on a Pi preprocessing is a resize and nothing more.
The MobileNets come from ``keras.applications``; with weights they are transfer-learned
(frozen base, then the top of it fine-tuned with its batch norms kept in inference mode).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgevision.errors import BadInput
from edgevision.train.recipe import Recipe

BACKBONE = "backbone"
HEAD_STAGE, FINE_TUNE_STAGE, SCRATCH_STAGE = "head", "fine_tune", "scratch"


def build_model(arch: str | Recipe, size: int | None = None, num_classes: int | None = None, dropout: float = 0.3,
                seed: int = 42) -> Any:
    """``build_model(recipe, num_classes=n)``; the positional (arch, size, n) form is kept for old callers."""
    import keras

    recipe = arch if isinstance(arch, Recipe) else Recipe(arch=arch, size=int(size or 64), dropout=dropout, seed=seed)
    if not num_classes or num_classes < 2:
        raise BadInput(f"a classifier needs at least 2 classes, got {num_classes}")
    if recipe.arch == "small_cnn":
        return _small_cnn(keras, recipe, num_classes)
    return _mobilenet(keras, recipe, num_classes)


def _regularizer(keras: Any, l2: float) -> Any:
    return keras.regularizers.L2(l2) if l2 > 0 else None


def conv_blocks(size: int) -> int:
    """Conv-pool blocks that bring the input down to a 4..7 px map (32 px: 3, 64 px: 4, 224 px: 5)."""
    blocks = 1
    while size // 2 ** (blocks + 1) >= 4 and blocks < 6:
        blocks += 1
    return max(blocks, 1)


def _small_cnn(keras: Any, r: Recipe, num_classes: int) -> Any:
    """The classic Conv-Pool xN -> Dense -> softmax, with batch norm for stable int8 ranges.

    Blocks double the filters (16, 32, 64, ...) until the map is 4..7 px, which is then
    flattened: where each part of the hand or object sits matters, and a small map keeps
    the dense layer small (a 64 px model has ~0.2 M parameters).
    """
    L = keras.layers
    init = keras.initializers.HeNormal(seed=r.seed)
    reg = _regularizer(keras, r.l2)
    x = inputs = keras.Input((r.size, r.size, 3), name="image")
    x = L.Rescaling(1.0 / 255.0, name="normalize")(x)
    for i in range(conv_blocks(r.size)):
        filters = max(4, round(min(16 * 2**i, 256) * r.width))
        x = L.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=init, kernel_regularizer=reg,
                     name=f"conv{i + 1}")(x)
        x = L.BatchNormalization(momentum=0.9, name=f"bn{i + 1}")(x)
        x = L.ReLU(name=f"relu{i + 1}")(x)
        x = L.MaxPooling2D(2, name=f"pool{i + 1}")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(max(8, round(64 * r.width)), activation="relu", kernel_initializer=init, kernel_regularizer=reg,
                name="fc")(x)
    x = L.Dropout(r.dropout, seed=r.seed, name="dropout")(x)
    outputs = L.Dense(num_classes, activation="softmax", kernel_regularizer=reg, name="probability")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def _weights_arg(r: Recipe) -> str | None:
    if r.weights == "none":
        return None
    if r.weights == "imagenet":
        return "imagenet"
    p = Path(r.weights).expanduser()
    if not p.is_file():
        raise BadInput(f"--weights {r.weights}: file not found (use imagenet, none or a .weights.h5 / .h5 file)")
    return str(p)


def _base(keras: Any, r: Recipe) -> Any:
    apps = keras.applications
    shape = (r.size, r.size, 3)
    weights = _weights_arg(r)
    try:
        if r.arch == "mobilenet_v2":
            return apps.MobileNetV2(input_shape=shape, alpha=r.width, include_top=False, weights=weights, name=BACKBONE)
        builder = apps.MobileNetV3Small if r.arch == "mobilenet_v3_small" else apps.MobileNetV3Large
        return builder(input_shape=shape, alpha=r.width, minimalistic=r.minimalistic, include_top=False,
                       weights=weights, include_preprocessing=True, name=BACKBONE)
    except ValueError as exc:  # keras explains unsupported alpha/size/weights combinations
        first = str(exc).strip().splitlines()[0][:240]
        raise BadInput(f"{r.arch} with weights={r.weights}: {first}") from None


def _mobilenet(keras: Any, r: Recipe, num_classes: int) -> Any:
    L = keras.layers
    x = inputs = keras.Input((r.size, r.size, 3), name="image")
    if r.arch == "mobilenet_v2":  # V2 expects [-1, 1]; V3 rescales inside (include_preprocessing)
        x = L.Rescaling(1.0 / 127.5, offset=-1.0, name="normalize")(x)
    base = _base(keras, r)
    # pretrained: batch norms stay in inference mode, also when fine-tuning (their statistics are the knowledge)
    x = base(x, training=False) if r.pretrained else base(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dropout(r.dropout, seed=r.seed, name="dropout")(x)
    init = keras.initializers.GlorotUniform(seed=r.seed)
    outputs = L.Dense(num_classes, activation="softmax", kernel_initializer=init,
                      kernel_regularizer=_regularizer(keras, r.l2), name="probability")(x)
    return keras.Model(inputs, outputs, name=r.arch)


def stage_of(recipe: Recipe, epoch: int) -> str:
    """Which stage a (0-based) epoch belongs to."""
    if not recipe.pretrained:
        return SCRATCH_STAGE
    return HEAD_STAGE if epoch < recipe.epochs else FINE_TUNE_STAGE


def set_stage(model: Any, recipe: Recipe, stage: str) -> int:
    """Freeze or unfreeze the backbone for a stage; returns how many base layers train."""
    try:
        base = model.get_layer(BACKBONE)
    except ValueError:
        return 0  # small_cnn: no backbone, everything trains
    if stage == SCRATCH_STAGE:
        base.trainable = True
        return len(base.layers)
    if stage == HEAD_STAGE:
        base.trainable = False
        return 0
    base.trainable = True
    layers = base.layers
    cut = len(layers) - max(1, round(len(layers) * recipe.fine_tune_fraction))
    import keras

    trained = 0
    for i, layer in enumerate(layers):
        layer.trainable = i >= cut and not isinstance(layer, keras.layers.BatchNormalization)
        trained += layer.trainable
    return trained
