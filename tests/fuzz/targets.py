"""Fuzz targets: every parser of outside input, fed bytes by a coverage-guided fuzzer (atheris, libFuzzer).

Each target takes the fuzzer's bytes to one parser exactly as the product calls it, and lets through
only what the product turns into one ``error:`` line (``EdgevisionError``); anything else that escapes
(an IndexError, a RecursionError, struct.error, a MemoryError past the fuzzer's RSS limit, a hang past
its timeout) is a crash the fuzzer reports with the input that caused it. The seeds of each target
are committed under ``tests/fuzz/corpus/<target>/``; ``run_target.py`` runs one target.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path

from edgevision.errors import EdgevisionError


def labels(data: bytes) -> None:
    from edgevision.model.labels import parse_labels

    parse_labels(data.decode("utf-8", "replace"), "fuzz")


def flatbuffer(data: bytes) -> None:
    """The .tflite checks every command runs first, then what info, run and bundle read from a model."""
    from edgevision.model import tflite_tables as tables
    from edgevision.model.artifact import load_artifact
    from edgevision.model.tflite_file import check_tflite

    check_tflite(data, "fuzz")
    try:  # the table readers' contract: ValueError on bytes they cannot read (their callers say so in one line)
        tables.graphs(data)
        tables.buffers(data)
    except ValueError:
        pass
    load_artifact("fuzz.tflite", data=data)


def tar_archive(data: bytes) -> None:
    from edgevision.releases.archive import safe_extract

    with tempfile.TemporaryDirectory(prefix="fuzz-tar-") as tmp:
        archive, dest = Path(tmp) / "bundle.tar.gz", Path(tmp) / "dest"
        archive.write_bytes(data)
        dest.mkdir()
        safe_extract(archive, dest)


def zip_directory(data: bytes) -> None:
    """A model's associated zip and an AI Camera packerOut.zip: the end record first, then zipfile."""
    from edgevision.imx500.rpk_release import check_packer
    from edgevision.model.tflite_file import associated_files

    associated_files(data, "fuzz")
    check_packer(data, "fuzz")


def manifest(data: bytes) -> None:
    from edgevision.releases.manifest import Manifest, check_profile

    check_profile(Manifest.from_json(data, "fuzz").profile, "fuzz")


def runtime_config(data: bytes) -> None:
    from edgevision.releases.runtime_config import RuntimeConfig

    RuntimeConfig.from_json(data, "fuzz")


def profile_toml(data: bytes) -> None:
    from typing import Any

    from edgevision.documents import decode_toml

    decode_toml(data.decode("utf-8", "replace"), dict[str, Any], "fuzz")


def results_import(data: bytes) -> None:
    from edgevision.bench.result_store import read_results

    with tempfile.TemporaryDirectory(prefix="fuzz-results-") as tmp:
        path = Path(tmp) / "results.json"
        path.write_bytes(data)
        read_results(path)


def mjpeg_stream(data: bytes) -> None:
    """The MJPEG part parser over the bytes a camera sends after its HTTP headers; every part it returns is
    decoded as the source decodes it."""
    from edgevision.limits import limits
    from edgevision.sources.mjpeg import MultipartReader

    reader = MultipartReader(io.BytesIO(data).read1, b"--frame", "fuzz", limits())
    for _ in range(8):
        reader.next_part()


def web_request(data: bytes) -> None:
    """The web view's request parsing: the request line and headers as http.server reads them, then the
    token and Host checks the view applies before answering."""
    import http.client

    from edgevision.sinks.web_auth import host_allowed, request_token, token_ok

    stream = io.BytesIO(data)
    line = stream.readline(65537).decode("iso-8859-1", "replace")
    words = line.split()
    path = words[1] if len(words) >= 2 else "/"
    try:
        headers = http.client.parse_headers(stream)
    except http.client.HTTPException:
        return  # http.server answers these with 431/400 before the view sees the request
    token_ok("secret-token", request_token(path, headers))
    host_allowed(headers.get("Host"), frozenset({"localhost", "127.0.0.1"}))


def reference_profile(data: bytes) -> None:
    """A model's reference profile (or a device baseline), then the drift monitor built from it, as a run does."""
    from edgevision.model.reference_profile import ReferenceProfile
    from edgevision.pipeline.drift import DriftMonitor

    monitor = DriftMonitor(ReferenceProfile.from_json(data, "fuzz"))
    for value in (0.0, 0.5, 1.0, 1e9):
        monitor.observe_values(value, 0, (value,) * 5)


def drift_state(data: bytes) -> None:
    """The drift monitor's state file as ``device status`` reads it back (a damaged one is a note)."""
    from edgevision.pipeline.drift import read_state

    with tempfile.TemporaryDirectory(prefix="fuzz-drift-") as tmp:
        path = Path(tmp) / "drift.json"
        path.write_bytes(data)
        read_state(path, [])


def samples_stream(data: bytes) -> None:
    """What ``device samples pull`` reads from a device: the frame line, the tar, the index, the files."""
    from edgevision.deploy.samples_pull import _skip_greeting, _unpack
    from edgevision.limits import limits

    with tempfile.TemporaryDirectory(prefix="fuzz-samples-") as tmp:
        raw = io.BytesIO(data)
        _skip_greeting(raw, "0123456789abcdef0123456789abcdef", "fuzz")
        _unpack(raw, Path(tmp), "fuzz", limits())


TARGETS: dict[str, Callable[[bytes], None]] = {
    "labels": labels, "flatbuffer": flatbuffer, "tar_archive": tar_archive, "zip_directory": zip_directory,
    "manifest": manifest, "runtime_config": runtime_config, "profile_toml": profile_toml,
    "results_import": results_import, "mjpeg_stream": mjpeg_stream, "web_request": web_request,
    "reference_profile": reference_profile, "drift_state": drift_state, "samples_stream": samples_stream,
}
ALLOWED = (EdgevisionError,)
