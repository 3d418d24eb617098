"""Writes the seed corpus of each fuzz target (``python -m tests.fuzz.seeds``): small, valid inputs of every format.

The seeds are committed under tests/fuzz/corpus/<target>/ (this script is how they were made, and how to
make them again after a format changes); the fuzzer mutates from them, and ``run_target.py --merge``
adds the inputs it finds that reach new code.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

from tests.hostile_inputs import forge_bundle, runtime_for, tar_gz

ROOT = Path(__file__).resolve().parent / "corpus"
REPO = Path(__file__).resolve().parents[2]


def _jpeg() -> bytes:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".jpg", np.full((8, 8, 3), 90, np.uint8))
    assert ok
    return buf.tobytes()


def _profile() -> bytes:
    from edgevision.model.reference_profile import FORMAT

    return json.dumps({"format": FORMAT, "origin": "seed", "images": 50, "thumbnail": 64, "labels": ["a", "b"],
                       "label_mix": [0.5, 0.4], "signals": {
                           "confidence": {"count": 50, "percentiles": [i / 100 for i in range(101)]},
                           "brightness": {"count": 50, "percentiles": [float(i) for i in range(101)]}}}).encode()


def _samples_stream(jpeg: bytes) -> bytes:
    """A framed stream as `device samples export` sends it for the nonce the samples_stream target names."""
    import tarfile

    entry = {"file": "20240101T000000-1.jpg", "bytes": len(jpeg), "t": 1.7e9, "frame": 1, "label": "cat",
             "score": 0.4, "top_k": [{"label": "cat", "score": 0.4, "index": 0}], "reason": "low_confidence"}
    buf = io.BytesIO()
    buf.write(b"welcome\n-----BEGIN EDGEVISION ANSWER 0123456789abcdef0123456789abcdef-----\n")
    with tarfile.open(fileobj=buf, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("samples.jsonl", json.dumps(entry).encode() + b"\n"), (entry["file"], jpeg)):
            info = tarfile.TarInfo(str(name))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def seeds() -> dict[str, list[bytes]]:
    tiny = (REPO / "tests" / "fixtures" / "models" / "tiny_int8.tflite").read_bytes()
    bundle = forge_bundle({"model.tflite": tiny}, runtime_for("model.tflite", "0"), {"name": "x86-64"})
    packer = io.BytesIO()
    with zipfile.ZipFile(packer, "w") as zf:
        zf.writestr("dnnParams.xml", "<dnn/>")
        zf.writestr("packerOut.bin", bytes(64))
    jpeg = _jpeg()
    result = json.loads((REPO / "benchmarks" / "results" / "x86-64-vm-ai-edge-litert.json").read_text())
    results = result["results"][:1] if isinstance(result, dict) else result[:1]
    return {
        "labels": [b"cat\ndog\nbird\n", b"0 background\n1 cat\n3 dog\n", b"0: a\n1: b\n",
                   "\ufeffuno\r\ndos\r\n".encode(), b'["a", "b"]',
                   b'{"0": ["n01440764", "tench"], "1": ["n01443537", "goldfish"]}'],
        "flatbuffer": [tiny, (REPO / "tests" / "fixtures" / "models" / "tiny_float32.tflite").read_bytes()],
        "tar_archive": [tar_gz(bundle)],
        "zip_directory": [tiny[tiny.find(b"PK\x03\x04"):], packer.getvalue()],
        "manifest": [bundle["manifest.json"]],
        "runtime_config": [bundle["runtime.json"], json.dumps({**runtime_for("m.tflite", "rtsp://cam/s", "l.txt"),
                                                               "sinks": ["web=8080", "no-stdout"]}).encode()],
        "profile_toml": [(REPO / "device" / "profiles" / f"{n}.toml").read_bytes() for n in ("x86-64", "rpi5")],
        "results_import": [json.dumps({"format": "edgevision-bench", "schema": 1, "results": results}).encode()],
        "mjpeg_stream": [b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg) + jpeg
                         + b"\r\n--frame\r\nContent-Type: image/jpeg\r\n\r\n" + jpeg + b"\r\n--frame--\r\n"],
        "reference_profile": [_profile()],
        "drift_state": [json.dumps({"event": "drift", "frame": 120, "source": "cam", "t": 1.7e9, "state": "drifting",
                                    "moved": ["contrast"], "psi": {"contrast": 3.2, "confidence": None},
                                    "window": 100, "threshold": 2.0, "profile": "model", "since": 1.7e9,
                                    "updated": 1.7e9, "profile_origin": "converter"}).encode()],
        "samples_stream": [_samples_stream(jpeg)],
        "web_request": [b"GET /latest.json?token=abc HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
                        b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: a=b; edgevision_token=x\r\n"
                        b"Authorization: Bearer y\r\n\r\n"],
    }


def main() -> None:
    for target, blobs in seeds().items():
        folder = ROOT / target
        folder.mkdir(parents=True, exist_ok=True)
        for blob in blobs:
            (folder / f"seed-{hashlib.sha1(blob).hexdigest()[:16]}").write_bytes(blob)


if __name__ == "__main__":
    main()
