"""[TF] Keras files (Keras 3 ``.keras``/``.h5``, Keras 2 / tf.keras ``.h5``) and SavedModel directories.

A Keras 2 file — what Teachable Machine exports — is loaded by ``tf_keras`` (the Keras 2
package that matches TensorFlow 2.x), not by editing its config or weights: Keras 3 refuses
such files (``DepthwiseConv2D ... groups``). The normalization is read from a ``Rescaling``
or ``Normalization`` layer right after the input, where there is one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgevision.convert.frontends.frontend_base import BroughtModel
from edgevision.errors import BadInput, MissingDependency


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]


def saved_by_keras2(path: Path) -> bool:
    """An HDF5 file whose ``keras_version`` attribute says Keras 2 (tf.keras, Teachable Machine)."""
    if path.suffix.lower() not in (".h5", ".hdf5"):
        return False
    try:
        import h5py

        with h5py.File(path, "r") as f:
            version = f.attrs.get("keras_version", "")
    except (OSError, ImportError):
        return False
    return str(version.decode() if isinstance(version, bytes) else version).startswith("2.")


def load_keras_file(path: Path) -> BroughtModel:
    """A file Keras 2 wrote is read by ``tf_keras`` (Keras 3's reading of those is best-effort and refuses
    Teachable Machine's); everything else by Keras 3."""
    import keras

    if saved_by_keras2(path):
        try:
            import tf_keras
        except ImportError:
            raise MissingDependency("tf-keras", "keras2", f"{path}: a Keras 2 (tf.keras) file") from None
        try:
            model = tf_keras.models.load_model(path, compile=False)
        except Exception as exc2:  # noqa: BLE001 - Keras raises many types for a file it cannot read
            raise BadInput(f"{path}: cannot load Keras 2 model ({_first(exc2)})") from None
        return _from_keras(model, path, "keras2")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc3:  # noqa: BLE001
        raise BadInput(f"{path}: cannot load Keras model ({_first(exc3)})") from None
    return _from_keras(model, path, "keras")


def _shape_checks(origin: Path, inputs: list[Any], outputs: list[Any]) -> tuple[int | None, int | None, int, int]:
    if len(inputs) != 1:
        raise BadInput(f"{origin}: model has {len(inputs)} inputs; an image classifier has exactly one")
    if len(outputs) != 1:
        raise BadInput(f"{origin}: model has {len(outputs)} outputs (a detector or multi-head model?); an image "
                       "classifier has one (batch, classes) output")
    shape = tuple(None if d is None else int(d) for d in inputs[0].shape)
    if len(shape) != 4 or shape[-1] not in (1, 3):
        raise BadInput(f"{origin}: input shape {shape} is not an image (batch, height, width, 1 or 3 channels)")
    out = tuple(None if d is None else int(d) for d in outputs[0].shape)
    if len(out) != 2 or out[-1] is None:
        raise BadInput(f"{origin}: output shape {out} is not (batch, classes)")
    return shape[1], shape[2], shape[3], out[1]


def _declared_norm(model: Any) -> tuple[tuple[float, ...], tuple[float, ...], str] | None:
    """Rescaling (x*scale+offset) or Normalization ((x-mean)/sqrt(var)) as the first layer(s)."""
    for layer in getattr(model, "layers", [])[:3]:
        cls = layer.__class__.__name__
        if cls == "InputLayer":
            continue
        if cls == "Rescaling":
            scale, offset = float(np.mean(layer.scale)), float(np.mean(layer.offset))
            if scale == 0:
                return None
            # x*scale + offset = (x - mean)/std  with std = 1/scale, mean = -offset/scale
            return (-offset / scale,), (1.0 / scale,), f"Rescaling layer {layer.name!r} inside the model (fed 0..255)"
        if cls == "Normalization":
            return None  # its statistics are baked into the graph too; declare raw below
        break
    return None


def _from_keras(model: Any, path: Path, kind: str) -> BroughtModel:
    h, w, c, n = _shape_checks(path, list(model.inputs), list(model.outputs))
    norm = _declared_norm(model)
    if norm is not None:  # the model normalizes itself: the device feeds 0..255
        norm = ((0.0,), (1.0,), norm[2])
    elif any(layer.__class__.__name__ == "Normalization" for layer in model.layers[:3]):
        norm = ((0.0,), (1.0,), "Normalization layer inside the model (fed 0..255)")

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(model(x, training=False))

    def fn(x: Any) -> Any:
        return model(x, training=False)

    route = "Keras 3" if kind == "keras" else "tf_keras (Keras 2)"
    return BroughtModel(kind=kind, origin=str(path), height=h, width=w, channels=c, classes=n, run_original=run,
                        tf_function=fn, keepalive=model, from_model=norm, route=route)


def load_saved_model(path: Path) -> BroughtModel:
    """A SavedModel's serving signature: one image input, one output."""
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as exc:  # noqa: BLE001
        raise BadInput(f"{path}: cannot load SavedModel ({_first(exc)})") from None
    sig = (getattr(loaded, "signatures", {}) or {}).get("serving_default")
    if sig is None:
        raise BadInput(f"{path}: SavedModel has no 'serving_default' signature; export one with tf.saved_model.save("
                       "model, dir, signatures=...)")
    ins = list(sig.structured_input_signature[1].values())
    outs = list(sig.structured_outputs.values())
    h, w, c, n = _shape_checks(path, ins, outs)
    in_name = next(iter(sig.structured_input_signature[1]))
    out_name = next(iter(sig.structured_outputs))

    def fn(x: Any) -> Any:
        return sig(**{in_name: x})[out_name]

    def run(x: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(fn(tf.constant(x[i:i + 1]))) for i in range(len(x))])

    return BroughtModel(kind="savedmodel", origin=str(path), height=h, width=w, channels=c, classes=n,
                        run_original=run, tf_function=fn, keepalive=loaded, route="SavedModel serving_default")
