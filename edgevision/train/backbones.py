"""[TF] Model architectures. Every model takes float 0..255 RGB and normalizes inside the graph.

Normalizing in the graph means the device feeds raw pixels: an int8 model's uint8 input
then has scale 1 and zero point 0, so on a Pi preprocessing is a resize and nothing more.
"""

from __future__ import annotations

from typing import Any

from edgevision.errors import BadInput


def build_model(arch: str, size: int, num_classes: int, dropout: float = 0.3, seed: int = 42) -> Any:
    import keras

    if arch == "small_cnn":
        return _small_cnn(keras, size, num_classes, dropout, seed)
    raise BadInput(f"unknown architecture {arch!r}")


def _small_cnn(keras: Any, size: int, num_classes: int, dropout: float, seed: int) -> Any:
    """The classic Conv-Pool x3 -> Dense -> softmax, with batch norm for stable int8 ranges."""
    L = keras.layers
    init = keras.initializers.HeNormal(seed=seed)
    x = inputs = keras.Input((size, size, 3), name="image")
    x = L.Rescaling(1.0 / 255.0, name="normalize")(x)
    for i, filters in enumerate((16, 32, 64)):
        x = L.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=init, name=f"conv{i + 1}")(x)
        x = L.BatchNormalization(momentum=0.9, name=f"bn{i + 1}")(x)
        x = L.ReLU(name=f"relu{i + 1}")(x)
        x = L.MaxPooling2D(2, name=f"pool{i + 1}")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x) if size > 96 else L.Flatten(name="flatten")(x)
    x = L.Dense(64, activation="relu", kernel_initializer=init, name="fc")(x)
    x = L.Dropout(dropout, seed=seed, name="dropout")(x)
    outputs = L.Dense(num_classes, activation="softmax", name="probability")(x)
    return keras.Model(inputs, outputs, name="small_cnn")
