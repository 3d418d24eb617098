"""The IMX500 entry of the backend registry: the sensor is both the source and the backend.

:mod:`edgevision.runtime.backends` names this module; everything the rest of edgevision needs from the
AI Camera is reached through the functions here (``open_with_source`` for ``run``/``stream``, the
doctor, the benchmark, ``info`` and the release hooks of deploy), so no other package names it.
"""

from __future__ import annotations

from pathlib import Path

from edgevision.errors import BadInput, CheckFailed
from edgevision.imx500 import rpk_release
from edgevision.imx500.open_sensor import open_imx500
from edgevision.imx500.rpk_bundle import make_imx500_bundle as make_bundle
from edgevision.imx500.sensor_backend import SensorClassifier
from edgevision.imx500.sensor_source import Imx500Source
from edgevision.runtime.backends import BackendConfig

__all__ = ["DERIVED_FILES", "DEVICE_FILES", "DEVICE_TOOLS", "check_release_files", "make_bundle", "open_backend",
           "open_with_source", "preflight", "prepare_release"]


def open_backend(config: BackendConfig, reader_thread: bool = True) -> SensorClassifier:
    raise BadInput(f"{config.model}: an IMX500 network runs on the sensor: give --source imx500[:WxH]")


def open_with_source(config: BackendConfig, source: str,
                     read_timeout: float = 5.0) -> tuple[SensorClassifier, Imx500Source]:
    """The sensor backend and the AI Camera source it reads its scores from (``read_timeout`` is the
    capture watchdog's business, not the sensor's)."""
    src, clf = open_imx500(config.model, source, config.labels, config.top_k, config.threshold)
    return clf, src


# Release hooks: deploy and the device's release store reach them through the profile's ``backend``.
DERIVED_FILES = rpk_release.DERIVED              # made on the device at install time, not in the manifest
DEVICE_TOOLS = (rpk_release.TOOL,)               # what the pre-flight probe looks for on the device's PATH
DEVICE_FILES = rpk_release.FIRMWARE              # ... and among its files
preflight = rpk_release.preflight


def prepare_release(staging: Path) -> None:
    """network.rpk is made in the staging directory, before anything switches."""
    rpk_release.package(staging)


def check_release_files(contents: dict[str, bytes], directory: Path, where: str) -> None:
    """The model of an IMX500 release is packerOut.zip (network.rpk is made from it at install time)."""
    if rpk_release.PACKER not in contents:
        raise CheckFailed(f"{where}: an IMX500 bundle needs {rpk_release.PACKER} in the manifest")
    rpk_release.check_packer(contents[rpk_release.PACKER], str(directory / rpk_release.PACKER))


# Tool hooks: `edgevision doctor`, `bench` and `info` reach the AI Camera's own checks through the registry.
def doctor(model: Path, source: str | None, frames: int, timeout_s: float, labels: Path | None) -> object:
    """The AI Camera's doctor report: the network runs on the sensor, so the checks are about the Pi around it
    (picamera2 and its IMX500 helper, firmware, imx500-package, the network, labels, live outputs)."""
    from edgevision.imx500.sensor_doctor import diagnose_imx500, resolve_target
    from edgevision.imx500.source_name import is_imx500_source, parse_size

    if source is not None and not is_imx500_source(source):
        raise BadInput(f"--source {source}: an IMX500 network classifies frames from --source imx500 only")
    target = resolve_target(model)
    src = None
    if source is not None and target.rpk is not None:
        crop = ((target.card or {}).get("preprocess") or {}).get("crop", "squash")
        src = Imx500Source(target.rpk, parse_size(source), center_crop=crop == "center")
    return diagnose_imx500(target, labels=labels, source=src, frames=frames, timeout_s=timeout_s)


def bench(model: Path, source: str, frames: int, warmup: int, labels: Path | None,
          device_name: str | None) -> dict[str, object]:
    """A result document of on-sensor inference (``kind`` sensor): the sensor's own DNN/DSP time per frame."""
    from edgevision.console import err_console, inert_markup
    from edgevision.imx500.open_sensor import resolve_network
    from edgevision.imx500.rpk import read_network_info
    from edgevision.imx500.sensor_bench import measure, sensor_doc
    from edgevision.imx500.source_name import is_imx500_source

    if source == "synthetic":
        source = "imx500"
    if not is_imx500_source(source):
        raise BadInput(f"{model}: an IMX500 network is measured on the sensor: --source imx500[:WxH], not {source}")
    rpk = resolve_network(model)
    src, clf = open_imx500(rpk, source, labels, 1, None)
    try:
        size = read_network_info(rpk).input_size
    except BadInput:
        size = None
    with err_console().status(f"{inert_markup(rpk.name)}: on-sensor inference, {warmup} + {frames} frames…"):
        metrics = measure(src, clf, frames, warmup)
    return sensor_doc(rpk, clf, metrics, warmup, device_name, network_input=size)


def describe_model(model: Path) -> dict[str, object] | None:
    """``edgevision info`` of an IMX500 network (given as its card, folder, packerOut.zip or network.rpk)."""
    from edgevision.imx500.sensor_render import describe_imx500, imx500_card_path

    card = imx500_card_path(model)
    return None if card is None else describe_imx500(card)


def render_model(description: dict[str, object]) -> None:
    from edgevision.imx500.sensor_render import render_info

    render_info(description)
