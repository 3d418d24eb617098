"""The benchmark result document: one JSON object per (model, configuration, device, run).

Results travel between machines (a Pi measures, a laptop reports), so the document is
plain JSON with a schema version, every field a reader needs, and the raw samples. The
store and the export files keep the document exactly as written (unknown fields included): a
result imported from another machine and exported again is the same document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from pathlib import Path
from typing import Any

from edgevision.errors import BadInput
from edgevision.version import __version__

SCHEMA = 1                      # bump when a field changes meaning; readers refuse newer documents
FORMAT = "edgevision-bench"     # tag of export files and stores
REQUIRED = {"schema": int, "id": str, "kind": str, "created": str, "model": dict, "config": dict, "device": dict,
            "metrics": dict}


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def new_doc(kind: str, model: dict[str, Any], config: dict[str, Any], device: dict[str, Any],
            metrics: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A fresh result document; ``extra`` adds optional sections (conditions, pipeline, samples_ms, flags)."""
    doc: dict[str, Any] = {"schema": SCHEMA, "id": uuid.uuid4().hex, "kind": kind, "created": now_iso(),
                           "edgevision": __version__, "model": model, "config": config, "device": device,
                           "metrics": metrics}
    doc.update(extra)
    return doc


SENSOR_KIND = "sensor"  # a result measured where a sensor runs the network (no host invoke() to time)


def is_on_sensor(doc: dict[str, Any]) -> bool:
    """A result whose ``metrics.invoke`` is a sensor's own inference time, listed apart from host ``invoke()``
    figures, which measure something else (a host interpreter on a ready tensor)."""
    return doc.get("kind") == SENSOR_KIND or bool(doc.get("on_sensor"))


def check_schema(schema: Any, origin: str) -> int:
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        raise BadInput(f"{origin}: invalid result schema version {schema!r}")
    if schema > SCHEMA:
        raise BadInput(f"{origin}: written by a newer edgevision (result schema {schema}; this version reads up to "
                       f"{SCHEMA}); upgrade edgevision to read it")
    return schema


def validate(doc: Any, origin: str) -> dict[str, Any]:
    """Check one document's version, then every field a reader of results uses against the declared schema
    (``result_schema.Result``, by the one document reader): one error naming the result and the field.
    Returns it unchanged (nothing is dropped or rewritten)."""
    from edgevision.bench.result_schema import Result
    from edgevision.documents import convert

    if not isinstance(doc, dict):
        raise BadInput(f"{origin}: a result must be a JSON object, got {type(doc).__name__}")
    check_schema(doc.get("schema"), origin)
    for key, kind in REQUIRED.items():
        if not isinstance(doc.get(key), kind) or isinstance(doc.get(key), bool):
            raise BadInput(f"{origin}: result {str(doc.get('id', '?'))[:16]} has no valid {key!r} field")
    if not isinstance(doc["metrics"].get("invoke"), dict) or "p50" not in doc["metrics"]["invoke"]:
        raise BadInput(f"{origin}: result {doc['id'][:16]} has no invoke latency (metrics.invoke.p50)")
    convert(doc, Result, f"{origin}: result {doc['id'][:16]}")
    return doc


def p50(doc: dict[str, Any]) -> float:
    return float(doc["metrics"]["invoke"]["p50"])


def config_label(config: dict[str, Any]) -> str:
    """'cpu xnnpack ×4', 'cpu builtin ×1', 'edgetpu:usb' ..."""
    delegate = config.get("delegate", "cpu")
    if delegate.startswith("edgetpu"):
        return delegate
    kernels = "xnnpack" if config.get("xnnpack", True) else "builtin"
    return f"{delegate} {kernels} ×{config.get('threads', '?')}"


def device_label(doc: dict[str, Any]) -> str:
    d = doc["device"]
    what = d.get("board") or d.get("cpu") or d.get("arch") or "?"
    name = d.get("name") or ""
    head = f"{name} · {what}" if name and name not in what else what
    runtime = f"{d.get('runtime', '?')} {d.get('runtime_version', '')}".strip()
    return f"{head} · {d.get('arch')} · {runtime} · emulated" if d.get("emulated") else f"{head} · {runtime}"
