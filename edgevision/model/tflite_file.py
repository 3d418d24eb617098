"""The .tflite container: validation, embedded metadata buffers and associated files.

A TFLite file is a FlatBuffer (identifier ``TFL3``) that may be followed by a zip archive
holding "associated files" (labels, our model card). TFLite Metadata lives in a model
buffer named ``TFLITE_METADATA``. Reading goes through ``tflite_tables`` (the small reader) and
``zipfile`` (imported only when a zip is there), so it works on a device without TensorFlow;
writing rebuilds the model with the generated schema that ai-edge-litert ships (a dependency of
both the device and the train extras).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

from edgevision.errors import BadInput, exception_name
from edgevision.limits import hint, limits
from edgevision.model import tflite_tables as tables
from edgevision.model.flatbuf import FbTable
from edgevision.plainfile import open_regular

TFLITE_IDENTIFIER = b"TFL3"
METADATA_NAME = "TFLITE_METADATA"  # the Model.metadata entry whose buffer holds TFLite Metadata
MAX_MODEL_BYTES = 2**31
MB = 1024 * 1024


def read_model_bytes(path: str | Path) -> bytes:
    """Read a .tflite file, refusing anything that is not one with a one-line reason."""
    p = Path(path)
    cap = limits().model_bytes
    try:  # a regular file only, checked on the descriptor (a FIFO or a device would block or never end)
        fh = open_regular(p, "model file")
    except BadInput as exc:
        if "is a directory" in str(exc):
            raise BadInput(f"{p}: is a directory, expected a .tflite model file") from None
        raise
    try:
        with fh:
            size = os.fstat(fh.fileno()).st_size
            if size > cap:
                raise BadInput(f"{p}: model file is {size / MB:.0f} MB, over the {cap / MB:.0f} MB limit "
                               f"({hint('model_bytes')})")
            # the file's size and one byte more (a file at the cap that grew still fails the check below);
            # read(cap + 1) would allocate the whole cap (256 MB) first and cost a cold start 1-4 ms
            data = fh.read(min(size, cap) + 1)
    except OSError as exc:
        raise BadInput(f"{p}: cannot read model ({exc.strerror})") from None
    if len(data) > cap:
        raise BadInput(f"{p}: model file is over the {cap / MB:.0f} MB limit ({hint('model_bytes')})")
    check_tflite(data, str(p))
    return data


def check_tflite(data: bytes, origin: str) -> None:
    if len(data) < 16 or data[4:8] != TFLITE_IDENTIFIER:
        hint = " (a Keras/SavedModel? convert it first: edgevision convert)" if _looks_like_keras(data) else ""
        raise BadInput(f"{origin}: not a TFLite model (no TFL3 identifier){hint}")
    try:
        counts = tables.counts(data)
        check_counts(counts, origin, data)
        n_subgraphs = counts.subgraphs
        extents = tables.buffer_extents(data)
    except ValueError as exc:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        raise BadInput(f"{origin}: TFLite model is corrupt or truncated ({len(data):,} bytes; its flatbuffer "
                       f"tables cannot be read: {exception_name(cause)})") from None
    if not n_subgraphs:
        raise BadInput(f"{origin}: TFLite model has no subgraph")
    for offset, size in extents:
        if offset > 1 and offset + size > len(data):
            raise BadInput(f"{origin}: TFLite model is truncated (a weight buffer ends past the file)")


def check_counts(counts: tables.Counts, origin: str, data: bytes) -> None:
    """Refuse a model that declares more subgraphs, tensors, operators or buffers than the limits, before
    anything (the small reader, the interpreter) builds one object per entry."""
    lim = limits()
    for what, n, cap, field in (("subgraphs", counts.subgraphs, lim.subgraphs, "subgraphs"),
                                ("tensors", counts.tensors, lim.tensors, "tensors"),
                                ("operators", counts.operators, lim.operators, "operators"),
                                ("buffers and metadata entries", counts.buffers, lim.model_buffers, "model_buffers")):
        if n > cap:
            raise BadInput(f"{origin}: the model declares {n:,} {what}, over the limit of {cap:,} ({hint(field)})")
    n = tables.entries(data, lim.graph_entries)  # only now: a count over the limits above stops before this loop
    if n > lim.graph_entries:
        raise BadInput(f"{origin}: the model's tensor shapes and operator inputs/outputs hold more than "
                       f"{lim.graph_entries:,} entries ({hint('graph_entries')})")


def output_scores(data: bytes) -> int | None:
    """How many scores the first output of the first subgraph holds, read from the FlatBuffer alone
    (so info and bundle check a labels count exactly as run does, even for an Edge TPU model)."""
    try:
        graph = FbTable.root(data).table_at(tables.MODEL_SUBGRAPHS, 0)
        outputs = graph.ints(2) if graph is not None else []
        tensor = graph.table_at(tables.SUBGRAPH_TENSORS, outputs[0]) if graph is not None and outputs else None
        if tensor is None:
            return None
        shape = tensor.ints(tables.TENSOR_SHAPE)
        n = 1
        for dim in shape:
            n *= max(1, dim)
        return n if shape else None
    except Exception:  # noqa: BLE001 - garbage offsets raise whatever they provoke; the interpreter decides then
        return None


def _looks_like_keras(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04" or data[:8] == b"\x89HDF\r\n\x1a\n"


def metadata_buffers(data: bytes, names: tuple[str, ...] | None = None) -> dict[str, bytes]:
    """Map each ``Model.metadata`` entry name (of ``names``, when given) to its buffer's bytes.

    Only the entries asked for are copied: a model may list thousands of entries whose buffers all
    alias one large weight buffer."""
    entries = {n: i for n, i in tables.metadata_entries(data) if names is None or n in names}  # the last one wins
    buffers = tables.buffers_at(data, list(entries.values()))
    out: dict[str, bytes] = {}
    for name, index in entries.items():
        if index not in buffers:
            continue
        buf = buffers[index]
        out[name] = bytes(data[buf.offset:buf.offset + buf.size]) if buf.offset > 1 else buf.data
    return out


def associated_files(data: bytes, origin: str = "model") -> dict[str, bytes]:
    """Files packed in the zip that follows the FlatBuffer (empty when there is none).

    The sizes the zip's directory declares are checked against the limit before anything is
    inflated, and inflating stops at the declared size (or the limit), whatever the stream holds.
    """
    if data.rfind(b"PK\x05\x06", max(0, len(data) - (1 << 16) - 22)) < 0:
        return {}  # no zip directory where zipfile looks for one: nothing to import zipfile for
    import zipfile

    from edgevision.model.zip_directory import check_directory

    lim = limits()
    cap = lim.associated_bytes
    check_directory(data, origin, lim.associated_files, lim.zip_directory_bytes)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error, NotImplementedError):
        return {}
    out: dict[str, bytes] = {}
    with zf:
        infos = [i for i in zf.infolist() if not i.filename.endswith("/")]  # (is_dir() fails on an empty name)
        if len(infos) > lim.associated_files:
            raise BadInput(f"{origin}: {len(infos)} associated files; a model has at most {lim.associated_files}")
        declared = sum(i.file_size for i in infos)
        if declared > cap:
            raise BadInput(f"{origin}: associated files inflate to {declared / MB:.0f} MB, over the "
                           f"{cap / MB:.0f} MB limit ({hint('associated_bytes')})")
        for info in infos:
            try:
                with zf.open(info) as fh:
                    payload = fh.read(info.file_size + 1)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError,
                    zlib.error) as exc:
                raise BadInput(f"{origin}: associated file {info.filename!r} is corrupt "
                               f"({exception_name(exc)})") from None
            if len(payload) != info.file_size:
                raise BadInput(f"{origin}: associated file {info.filename!r} does not match its declared size")
            out[info.filename] = payload
    return out


def _schema():  # type: ignore[no-untyped-def]
    schema = tables.schema_module()
    if schema is None:
        from edgevision.errors import MissingDependency

        raise MissingDependency("ai-edge-litert", "device", "writing model metadata")
    return schema


def embed(data: bytes, metadata: dict[str, bytes], files: dict[str, bytes]) -> bytes:
    """Return ``data`` with the given metadata buffers set and ``files`` as its associated zip.

    Existing entries of the same names are replaced; any previous associated zip is dropped.
    """
    import flatbuffers

    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(data, 0))
    for buf in model.buffers or []:
        if buf.offset:  # large models keep weights after the FlatBuffer; pull them back in
            buf.data, buf.offset, buf.size = bytearray(data[buf.offset:buf.offset + buf.size]), 0, 0
    model.metadata = [m for m in (model.metadata or [])
                      if (m.name.decode() if isinstance(m.name, bytes) else m.name) not in metadata]
    for name, payload in metadata.items():
        buf = schema.BufferT()
        buf.data = bytearray(payload)
        model.buffers.append(buf)
        entry = schema.MetadataT()
        entry.name = name
        entry.buffer = len(model.buffers) - 1
        model.metadata.append(entry)
    builder = flatbuffers.Builder(len(data) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=TFLITE_IDENTIFIER)
    out = io.BytesIO(bytes(builder.Output()))
    if files:
        import zipfile

        # Appending in "a" mode to a non-zip stream is exactly what the TFLite Support
        # populator does: offsets are absolute, so MediaPipe's extractor finds the files.
        with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_STORED) as zf:
            for name, payload in files.items():
                zf.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), payload)
    return out.getvalue()
