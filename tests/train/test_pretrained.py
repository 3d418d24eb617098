"""The default recipe: transfer learning when ImageNet weights can be had, its from-scratch fallback otherwise.

Nothing leaves the machine: "ImageNet weights" are a tiny MobileNetV2's, saved in Keras' legacy
.h5 format under Keras' own cache file name, found in an empty per-test Keras cache or served
by an HTTP server on loopback.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console

from edgevision.errors import BadInput
from edgevision.train.pretrained import choose, imagenet_file
from edgevision.train.recipe import Augment, load_recipe
from tests.conftest import HAS_TF, need

QUIET = Console(file=open(os.devnull, "w"))  # noqa: SIM115
NO_AUG = Augment(flip=False, rotation=0.0, zoom=0.0, translate=0.0, brightness=0.0, contrast=0.0)


def tiny_default():
    """The default recipe, made small: a 0.35 MobileNetV2 at 32 px (its fallback shrinks along)."""
    return load_recipe(None).override(width=0.35, size=32, epochs=1, fine_tune_epochs=0, batch_size=32,
                                      augment=NO_AUG)


@pytest.fixture()
def keras_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "keras-home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("EDGEVISION_OFFLINE", "1")
    return home


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 0.35 MobileNetV2 backbone's weights as Keras' cache holds ImageNet ones (legacy HDF5)."""
    need(HAS_TF, "TensorFlow is not installed")
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(3)
    base = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None)
    path = tmp_path_factory.mktemp("weights") / imagenet_file(tiny_default())[0]
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, base)
    return path


def _serve(handler_body: bytes | None, status: int = 200):
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            if handler_body is None:
                self.send_error(404)
                return
            self.send_response(status)
            self.send_header("Content-Length", str(len(handler_body)))
            self.end_headers()
            self.wfile.write(handler_body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, requests


def test_the_default_recipe_transfer_learns_and_falls_back_to_small_cnn() -> None:
    r = load_recipe(None)
    assert r.arch == "mobilenet_v2" and r.weights == "imagenet" and r.fallback == "small_cnn"
    assert load_recipe(r.fallback).weights == "none"


def test_no_cache_and_offline_trains_the_fallback_and_says_why(keras_home: Path) -> None:
    choice = choose(tiny_default())
    assert choice.source == "scratch" and choice.recipe.arch == "small_cnn" and choice.recipe.name == "small_cnn"
    # what the command line changed travels to the fallback; the backbone's own settings do not
    assert choice.recipe.size == 32 and choice.recipe.epochs == 1 and choice.recipe.augment == NO_AUG
    assert choice.recipe.width == load_recipe("small_cnn").width
    assert choice.line.startswith("model: small_cnn 32 px from scratch")
    assert str(keras_home / "models") in choice.line and "EDGEVISION_OFFLINE" in choice.line
    assert "\n" not in choice.line


def test_weights_in_keras_cache_are_used(keras_home: Path, tiny_weights: Path) -> None:
    (keras_home / "models").mkdir()
    cached = keras_home / "models" / tiny_weights.name
    cached.write_bytes(tiny_weights.read_bytes())
    choice = choose(tiny_default())
    assert choice.source == "cache" and choice.recipe.arch == "mobilenet_v2"
    assert choice.recipe.weights == str(cached) and not choice.recipe.fallback
    assert "transfer learning from ImageNet weights (Keras' cache" in choice.line


def test_a_download_lands_in_keras_cache_then_is_found_there(keras_home: Path, tiny_weights: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    server, requests = _serve(tiny_weights.read_bytes())
    try:
        monkeypatch.delenv("EDGEVISION_OFFLINE")
        monkeypatch.setenv("EDGEVISION_WEIGHTS_URL", f"http://127.0.0.1:{server.server_port}/mirror/")
        first = choose(tiny_default())
        assert first.source == "download" and requests == [f"/mirror/mobilenet_v2/{tiny_weights.name}"]
        cached = keras_home / "models" / tiny_weights.name
        assert first.recipe.weights == str(cached) and cached.read_bytes() == tiny_weights.read_bytes()
        again = choose(tiny_default())
        assert again.source == "cache" and len(requests) == 1
    finally:
        server.shutdown()


def test_a_bad_download_falls_back_and_leaves_the_cache_clean(keras_home: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGEVISION_OFFLINE")
    for body in (b"<html>captive portal</html>", None):
        server, _ = _serve(body)
        try:
            monkeypatch.setenv("EDGEVISION_WEIGHTS_URL", f"http://127.0.0.1:{server.server_port}")
            choice = choose(tiny_default())
        finally:
            server.shutdown()
        assert choice.source == "scratch"
        assert ("not an HDF5" if body else "Not Found") in choice.line
        assert not any((keras_home / "models").iterdir())  # no partial or bogus file left behind


def test_an_unreachable_or_silent_server_fails_fast(keras_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGEVISION_OFFLINE")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("EDGEVISION_WEIGHTS_URL", f"http://127.0.0.1:{port}")  # nothing listens: refused
    t = time.perf_counter()
    assert choose(tiny_default(), timeout=1.0).source == "scratch"
    assert time.perf_counter() - t < 2
    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setenv("EDGEVISION_WEIGHTS_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        t = time.perf_counter()
        choice = choose(tiny_default(), timeout=1.0)
        assert time.perf_counter() - t < 3
    assert choice.source == "scratch" and "timed out" in choice.line


def test_explicit_weights_are_never_swapped_for_the_fallback(keras_home: Path, tiny_weights: Path) -> None:
    choice = choose(tiny_default().override(weights=str(tiny_weights)))
    assert choice.source == "file" and choice.recipe.weights == str(tiny_weights)
    with pytest.raises(BadInput, match="file not found"):
        choose(tiny_default().override(weights=str(tiny_weights.with_name("missing.h5"))))
    # a recipe without a fallback that cannot get its weights: one clear error, not a different model
    with pytest.raises(BadInput, match="--weights PATH"):
        choose(load_recipe("mobilenet_v3_small"))


def test_weights_none_means_the_fallback_unless_another_backbone_was_asked_for(keras_home: Path) -> None:
    assert choose(tiny_default().override(weights="none")).recipe.arch == "small_cnn"
    other = choose(tiny_default().override(weights="none", arch="mobilenet_v3_small", width=0.75))
    assert other.recipe.arch == "mobilenet_v3_small" and other.source == "scratch"


def test_no_imagenet_weights_for_that_width(keras_home: Path) -> None:
    choice = choose(tiny_default().override(width=0.6))
    assert choice.source == "scratch" and "width 0.6" in choice.line


@pytest.mark.tf
def test_training_from_cached_weights_starts_from_them(keras_home: Path, tiny_weights: Path, shapes_data: Path,
                                                       tmp_path: Path) -> None:
    import keras
    import numpy as np

    from edgevision.train.trainer import train

    (keras_home / "models").mkdir()
    (keras_home / "models" / tiny_weights.name).write_bytes(tiny_weights.read_bytes())
    train(shapes_data, tmp_path / "run", tiny_default(), QUIET)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["init"]["source"] == "cache" and run["recipe"]["arch"] == "mobilenet_v2"
    assert run["stages"] == ["head"]

    model = keras.models.load_model(tmp_path / "run" / "model.keras", compile=False)
    ref = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, include_top=False,
                                         weights=str(tiny_weights))
    for name in ("Conv1", "block_16_project"):  # the frozen base holds exactly the cached file's values
        np.testing.assert_array_equal(model.get_layer("backbone").get_layer(name).kernel.numpy(),
                                      ref.get_layer(name).kernel.numpy())


@pytest.mark.tf
def test_cli_says_which_model_ran(cli, shapes_data: Path, tmp_path: Path, keras_home: Path) -> None:
    env_home = {**cli.env, "KERAS_HOME": str(keras_home), "EDGEVISION_OFFLINE": "1"}
    proc = type(cli)(cli.python, env_home)("train", shapes_data, "--out", tmp_path / "run", "--size", "24",
                                          "--epochs", "1")
    assert proc.returncode == 0, proc.stderr
    assert "model: small_cnn 24 px from scratch (recipe small_cnn): no ImageNet weights" in proc.stderr
    assert json.loads((tmp_path / "run" / "run.json").read_text())["init"]["source"] == "scratch"
    arch = type(cli)(cli.python, env_home)("train", shapes_data, "--out", tmp_path / "run2", "--arch", "small_cnn",
                                          "--size", "24", "--epochs", "1")
    assert arch.returncode == 0, arch.stderr
    assert "weights = none for mobilenet_v2" in arch.stderr
