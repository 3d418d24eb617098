"""Where a backbone's ImageNet weights come from: Keras' cache, a download, a local file, or nowhere.

The default recipe transfer-learns (the best model a small dataset can give) whenever the
weights can be had, and otherwise trains its from-scratch fallback recipe; either way the
run says in one line which one ran and why. Keras would download on its own, but without a
timeout and with a progress bar on stdout, so edgevision looks the file up in Keras' cache
under Keras' own file name, fetches it with a short timeout into that cache (atomically: a
cut download never poisons it), and hands Keras the file. No TensorFlow here.

``EDGEVISION_WEIGHTS_URL`` points the download at a mirror laid out like Keras' bucket
(``…/mobilenet_v2/FILE``); ``EDGEVISION_OFFLINE=1`` never tries the network.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from edgevision.errors import BadInput
from edgevision.train.recipe import Recipe

KERAS_BUCKET = "https://storage.googleapis.com/tensorflow/keras-applications/"
DOWNLOAD_TIMEOUT_S = 10.0
MAX_WEIGHTS_BYTES = 200 * 2**20   # the largest no-top MobileNet file is ~20 MB
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
V2_SIZES = (96, 128, 160, 192, 224)
V3_ALPHAS = (0.75, 1.0)
# the backbone-describing keys: a fallback keeps its own, whatever the command line set for the backbone
BACKBONE_KEYS = ("arch", "weights", "width", "minimalistic")


@dataclass(frozen=True)
class Choice:
    """What a run starts from; ``line`` is what the user is told."""

    recipe: Recipe
    source: str        # cache | download | file | scratch
    line: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "weights": self.recipe.weights, "why": self.line}


def imagenet_file(r: Recipe) -> tuple[str, str]:
    """(Keras' cache file name, its folder in the bucket) of a no-top backbone; BadInput if none exists."""
    if r.arch == "mobilenet_v2":
        if r.width not in V2_ALPHAS:
            raise BadInput(f"no ImageNet weights for mobilenet_v2 width {r.width:g} (they exist for "
                           f"{', '.join(f'{a:g}' for a in V2_ALPHAS)})")
        rows = r.size if r.size in V2_SIZES else 224  # as Keras does: the 224 weights serve other sizes
        return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(r.width)}_{rows}_no_top.h5", "mobilenet_v2"
    if r.arch in ("mobilenet_v3_small", "mobilenet_v3_large"):
        if r.width not in V3_ALPHAS or (r.minimalistic and r.width != 1.0):
            raise BadInput(f"no ImageNet weights for {r.arch} width {r.width:g}"
                           + (" minimalistic (only 1.0)" if r.minimalistic else " (only 0.75 and 1.0)"))
        kind = r.arch.removeprefix("mobilenet_v3_") + ("_minimalistic" if r.minimalistic else "")
        return f"weights_mobilenet_v3_{kind}_224_{float(r.width)}_float_no_top_v2.h5", "mobilenet_v3"
    raise BadInput(f"{r.arch} has no ImageNet weights")


def keras_cache_dirs() -> list[Path]:
    """Keras' model cache: $KERAS_HOME/models (default ~/.keras), and /tmp/.keras where that is read-only."""
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()
    return [home / "models", Path(tempfile.gettempdir()) / ".keras" / "models"]


def _looks_like_hdf5(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(8) == HDF5_MAGIC
    except OSError:
        return False


def _download(url: str, target_dir: Path, name: str, timeout: float) -> Path:
    """Fetch ``url`` into ``target_dir/name`` through a temporary file; OSError/ValueError when it cannot."""
    target_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=target_dir)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            size = 0
            while chunk := resp.read(1 << 20):
                size += len(chunk)
                if size > MAX_WEIGHTS_BYTES:
                    raise ValueError(f"more than {MAX_WEIGHTS_BYTES >> 20} MB")
                out.write(chunk)
        if not _looks_like_hdf5(Path(tmp)):
            raise ValueError("not an HDF5 weights file")
        os.replace(tmp, target_dir / name)
        return target_dir / name
    finally:
        Path(tmp).unlink(missing_ok=True)


def find_imagenet(r: Recipe, *, timeout: float = DOWNLOAD_TIMEOUT_S) -> tuple[Path | None, str, str]:
    """(file, "cache" | "download", where) when the weights can be had, else (None, "", why not)."""
    name, folder = imagenet_file(r)
    dirs = keras_cache_dirs()
    for d in dirs:
        if (d / name).is_file() and _looks_like_hdf5(d / name):
            return d / name, "cache", str(d / name)
    where = f"not in {dirs[0]}"
    if os.environ.get("EDGEVISION_OFFLINE") == "1":
        return None, "", f"{where}, no download (EDGEVISION_OFFLINE=1)"
    base = os.environ.get("EDGEVISION_WEIGHTS_URL") or KERAS_BUCKET
    url = f"{base.rstrip('/')}/{folder}/{name}"
    errors = []
    for d in dirs:
        try:
            return _download(url, d, name, timeout), "download", f"{url} -> {d / name}"
        except PermissionError as exc:
            errors.append(f"cannot write {d}: {exc.strerror}")
        except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections, HTTP errors
            reason = getattr(exc, "reason", None) or exc
            reason = getattr(reason, "strerror", None) or str(reason)
            host = urllib.parse.urlsplit(url).netloc or url
            return None, "", f"{where}, download from {host} failed: {reason}"
    return None, "", f"{where}, nowhere to save a download ({'; '.join(errors)})"


def describe(r: Recipe) -> str:
    if r.arch == "small_cnn":
        return f"small_cnn {r.size} px"
    return f"{r.arch} {r.width:g} at {r.size} px"


def choose(recipe: Recipe, fallback: Recipe | None = None, *, timeout: float = DOWNLOAD_TIMEOUT_S) -> Choice:
    """The recipe a new run trains: ``recipe`` with its weights found, or its fallback recipe from scratch.

    ``fallback`` defaults to the recipe named by ``recipe.fallback``. Explicit weight files are
    never replaced: a missing one is an error, not a silent change of model.
    """
    if recipe.weights == "none":
        if recipe.fallback:  # a transfer recipe told to start from nothing: its own from-scratch recipe,
            fb = fallback or _load_fallback(recipe)  # unless another backbone was asked for
            own = _own(recipe)
            if recipe.arch in (fb.arch, own.arch if own else recipe.arch):
                fb = fb.override(fallback="")
                return Choice(fb, "scratch", f"model: {describe(fb)} from scratch (recipe {fb.name}): "
                                             f"weights = none for {recipe.name}")
        return Choice(recipe.override(fallback=""), "scratch",
                      f"model: {describe(recipe)} from scratch (recipe {recipe.name})")
    if recipe.weights != "imagenet":
        path = Path(recipe.weights).expanduser()
        if not path.is_file():
            raise BadInput(f"--weights {recipe.weights}: file not found "
                           "(use imagenet, none or a .weights.h5 / .h5 file)")
        return Choice(recipe.override(fallback=""), "file",
                      f"model: {describe(recipe)}, transfer learning from {path}")
    try:
        found, source, where = find_imagenet(recipe, timeout=timeout)
    except BadInput as exc:
        found, source, where = None, "", str(exc)
    if found is not None:
        via = "Keras' cache" if source == "cache" else "a download"
        return Choice(recipe.override(weights=str(found), fallback=""), source,
                      f"model: {describe(recipe)}, transfer learning from ImageNet weights ({via}: {where})")
    if not recipe.fallback:
        raise BadInput(f"recipe {recipe.name}: no ImageNet weights for {describe(recipe)} ({where}); "
                       "pass --weights PATH (a local copy), or --weights none to train from scratch")
    fb = (fallback or _load_fallback(recipe)).override(fallback="")
    return Choice(fb, "scratch", f"model: {describe(fb)} from scratch (recipe {fb.name}): no ImageNet weights for "
                                 f"{describe(recipe)} ({where}); --weights PATH uses a local copy")


def _load_fallback(recipe: Recipe) -> Recipe:
    """The fallback recipe, with whatever the command line changed in ``recipe`` except its backbone."""
    from dataclasses import fields

    from edgevision.train.recipe import load_recipe

    fb = load_recipe(recipe.fallback)
    if fb.pretrained or fb.fallback:
        raise BadInput(f"recipe {recipe.name}: its fallback {recipe.fallback!r} must train from scratch, "
                       "without a fallback of its own")
    own = _own(recipe)
    if own is None:
        return fb
    skip = {*BACKBONE_KEYS, "name", "fallback"}
    changed = {f.name: getattr(recipe, f.name) for f in fields(Recipe)
               if f.name not in skip and getattr(recipe, f.name) != getattr(own, f.name)}
    return fb.override(**changed)


def _own(recipe: Recipe) -> Recipe | None:
    """The recipe file ``recipe`` was loaded from, as written (None for a recipe made in code)."""
    from edgevision.train.recipe import load_recipe

    try:
        own = load_recipe(recipe.name)
    except BadInput:
        return None
    return own if own.name == recipe.name and own.fallback == recipe.fallback else None
