"""Small files that claim huge sizes, made byte by byte: the inputs of tests/device/test_hostile_inputs.py and of
benchmarks/hostile_rss.py (which measures the peak RSS each costs, before and after the readers bound them).

Each maker writes a few kilobytes to a few megabytes that would cost a reader hundreds of megabytes
if it believed what they declare: a label line ``50000000 b``, a FlatBuffer with 200,000 tensors,
a tar of 850,000 headers, a zip whose directory has 1.3 million records, an MJPEG part that never
ends or announces 4 GB, an MQTT PUBLISH announcing 256 MB. The servers are real sockets on loopback.
"""

from __future__ import annotations

import gzip
import io
import json
import socket
import struct
import subprocess
import tarfile
import threading
import time
import zlib
from pathlib import Path

LABELS_15_BYTES = b"0 a\n50000000 b\n"
BUNDLE_FORMAT = "edgevision-bundle/1"  # written out here, so these inputs are made the same way for any version


def one_error(proc: subprocess.CompletedProcess[str] | dict, *needles: str) -> str:
    """A hostile input's outcome: exit 1 or 2, exactly one ``error:`` line (holding every needle), no traceback;
    ``proc`` is a finished process or :func:`peak_rss`'s report."""
    code = proc["code"] if isinstance(proc, dict) else proc.returncode
    err = proc["stderr"] if isinstance(proc, dict) else proc.stderr
    assert "Traceback" not in err, err[-3000:]
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert code in (1, 2) and len(errors) == 1, (code, err[-3000:])
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def write_labels_bomb(path: Path) -> Path:
    """Fifteen bytes that claim a list of 50,000,001 labels."""
    path.write_bytes(LABELS_15_BYTES)
    return path


def claim_outputs(model: bytes, n: int) -> bytes:
    """The model with its output tensor's last dimension (shape and shape signature) patched in place to ``n``:
    a model that claims ``n`` classes while its file stays the same size."""
    from edgevision.model.flatbuf import FbTable

    buf = bytearray(model)
    graph = FbTable.root(buf).table_at(2, 0)          # Model.subgraphs[0]
    tensor = graph.table_at(0, graph.ints(2)[0])       # SubGraph.tensors[SubGraph.outputs[0]]
    for slot in (0, 7):                                 # Tensor.shape, Tensor.shape_signature
        start, count = tensor._vector(slot)
        if count:
            struct.pack_into("<i", buf, start + 4 * (count - 1), n)
    return bytes(buf)


def many_tensors_model(n_tensors: int, n_operators: int = 0, rank: int = 1) -> bytes:
    """A valid TFLite FlatBuffer whose one subgraph lists ``n_tensors`` tensors (all the same table, so the file
    stays small: 4 bytes per entry) of shape ``[1] * rank`` and ``n_operators`` operators (likewise)."""
    import flatbuffers

    b = flatbuffers.Builder(1024 + 8 * (n_tensors + n_operators) + 4 * rank)
    name = b.CreateString("t")
    b.StartVector(4, rank, 4)
    for _ in range(rank):
        b.PrependInt32(1)
    shape = b.EndVector()
    b.StartObject(4)                    # Tensor: shape, type, buffer, name
    b.PrependUOffsetTRelativeSlot(0, shape, 0)
    b.PrependInt8Slot(1, 0, 0)
    b.PrependUint32Slot(2, 0, 0)
    b.PrependUOffsetTRelativeSlot(3, name, 0)
    tensor = b.EndObject()
    b.StartVector(4, 1, 4)
    b.PrependInt32(0)
    io_vec = b.EndVector()
    b.StartObject(4)                    # Operator: opcode_index, inputs, outputs
    b.PrependUint32Slot(0, 0, 0)
    b.PrependUOffsetTRelativeSlot(1, io_vec, 0)
    b.PrependUOffsetTRelativeSlot(2, io_vec, 0)
    operator = b.EndObject()
    b.StartVector(4, n_tensors, 4)
    for _ in range(n_tensors):
        b.PrependUOffsetTRelative(tensor)
    tensors = b.EndVector()
    b.StartVector(4, n_operators, 4)
    for _ in range(n_operators):
        b.PrependUOffsetTRelative(operator)
    operators = b.EndVector()
    b.StartVector(4, 1, 4)
    b.PrependInt32(0)
    inputs = b.EndVector()
    b.StartObject(5)                    # SubGraph: tensors, inputs, outputs, operators, name
    b.PrependUOffsetTRelativeSlot(0, tensors, 0)
    b.PrependUOffsetTRelativeSlot(1, inputs, 0)
    b.PrependUOffsetTRelativeSlot(2, inputs, 0)
    b.PrependUOffsetTRelativeSlot(3, operators, 0)
    subgraph = b.EndObject()
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(subgraph)
    subgraphs = b.EndVector()
    b.StartObject(0)                    # Buffer (empty: buffer 0 is the empty sentinel)
    buffer = b.EndObject()
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(buffer)
    buffers = b.EndVector()
    b.StartObject(1)                    # OperatorCode: deprecated_builtin_code = ADD
    b.PrependInt8Slot(0, 0, 0)
    opcode = b.EndObject()
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(opcode)
    opcodes = b.EndVector()
    b.StartObject(5)                    # Model: version, operator_codes, subgraphs, description, buffers
    b.PrependUint32Slot(0, 3, 0)
    b.PrependUOffsetTRelativeSlot(1, opcodes, 0)
    b.PrependUOffsetTRelativeSlot(2, subgraphs, 0)
    b.PrependUOffsetTRelativeSlot(4, buffers, 0)
    model = b.EndObject()
    b.Finish(model, file_identifier=b"TFL3")
    return bytes(b.Output())


def _repeated_gzip(block: bytes, repeats: int, tail: bytes) -> bytes:
    """gzip of ``block * repeats + tail``, compressed once and repeated (a full flush resets the window)."""
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    per = (1 << 20) // len(block) or 1
    chunk = block * per
    segment = z.compress(chunk) + z.flush(zlib.Z_FULL_FLUSH)
    times, rest = divmod(repeats, per)
    body = segment * times + z.compress(block * rest + tail) + z.flush()
    crc = 0
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(block * rest + tail, crc)
    size = (len(chunk) * times + len(block) * rest + len(tail)) & 0xFFFFFFFF
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + body + struct.pack("<II", crc, size)


def empty_headers_tar(path: Path, n: int = 850_000) -> Path:
    """A .tar.gz of ``n`` headers of empty files (about 1.9 MB for 850,000): a bundle archive has at most 64."""
    info = tarfile.TarInfo("empty.txt")
    info.size, info.mode, info.mtime = 0, 0o644, 0
    block = info.tobuf(format=tarfile.USTAR_FORMAT)
    path.write_bytes(_repeated_gzip(block, n, bytes(1024)))
    return path


def long_name_tar(path: Path, name_bytes: int = 512 << 20) -> Path:
    """A .tar.gz whose first header is a GNU long name of ``name_bytes`` (zeros compress 1000:1)."""
    info = tarfile.TarInfo("././@LongLink")
    info.type, info.size = tarfile.GNUTYPE_LONGNAME, name_bytes
    head = info.tobuf(format=tarfile.USTAR_FORMAT)
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    segment = z.compress(chunk) + z.flush(zlib.Z_FULL_FLUSH)
    first = z.compress(head) + z.flush(zlib.Z_FULL_FLUSH)
    body = first + segment * (name_bytes >> 20) + z.flush()
    crc = zlib.crc32(head)
    for _ in range(name_bytes >> 20):
        crc = zlib.crc32(chunk, crc)
    size = (len(head) + name_bytes) & 0xFFFFFFFF
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body + struct.pack("<II", crc, size))
    return path


def zip_with_many_records(n: int = 1_300_000) -> bytes:
    """A zip with one stored file and a central directory of ``n`` records naming it (60 MB for 1.3 M;
    compresses to a few hundred KB inside a .tar.gz)."""
    name, data = b"a", b"x"
    crc = zlib.crc32(data)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, crc, 1, 1, len(name), 0) + name + data
    record = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, crc, 1, 1, len(name), 0, 0, 0, 0,
                         0, 0) + name
    central = record * n
    count = min(n, 0xFFFF)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central) & 0xFFFFFFFF, len(local), 0)
    return local + central + end


def tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(payload), 0o644
            tf.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def forge_bundle(files: dict[str, bytes], runtime: dict, profile: dict) -> dict[str, bytes]:
    """A flat bundle (name -> bytes) whose manifest lists ``files`` with their true hashes and id: only the
    device's own checks of what the files hold stand between it and the service."""
    import hashlib

    def sha(b: bytes) -> str:
        return hashlib.sha256(b).hexdigest()

    files = {**files, "runtime.json": json.dumps(runtime).encode()}
    listed = {n: {"sha256": sha(b), "size": len(b)} for n, b in files.items()}
    core = {"format": BUNDLE_FORMAT, "profile": profile, "runtime": runtime, "files": listed}
    canonical = json.dumps(core, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    manifest = {**core, "id": sha(canonical)[:16], "created": "2026-01-01T00:00:00Z", "edgevision": "0.1.0",
                "model": {}}
    return {**files, "manifest.json": json.dumps(manifest).encode()}


def write_bundle(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def runtime_for(model: str, source: str, labels: str | None = None) -> dict:
    return {"model": model, "source": source, "delegate": "cpu", "threads": 0, "top_k": 3, "threshold": None,
            "smooth": 1, "loop": True, "labels": labels, "sinks": []}


class _Server(threading.Thread):
    """A loopback TCP server that answers every connection with ``serve(conn)`` until closed."""

    def __init__(self, serve) -> None:  # type: ignore[no-untyped-def]
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.serve, self.stopped, self.connections = serve, threading.Event(), 0

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            self.serve(conn, self.stopped)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()

    def __enter__(self) -> _Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


MJPEG_HEAD = (b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n"
              b"--frame\r\nContent-Type: image/jpeg\r\n")


def mjpeg_server(kind: str) -> _Server:
    """``endless``: one part without a length that never ends (1 MB every 10 ms); ``huge``: a part announcing
    4 GB, then sending it as fast as the socket takes it."""
    chunk = b"\xff" * (1 << 20)

    def serve(conn: socket.socket, stopped: threading.Event) -> None:
        conn.recv(65536)
        if kind == "huge":
            conn.sendall(MJPEG_HEAD + b"Content-Length: 4294967296\r\n\r\n\xff\xd8")
        else:
            conn.sendall(MJPEG_HEAD + b"\r\n\xff\xd8")
        while not stopped.is_set():
            conn.sendall(chunk)
            time.sleep(0.01)

    return _Server(serve)


def mqtt_broker_huge_publish(announce: int = (256 << 20) - 1) -> _Server:
    """Accepts the CONNECT, answers CONNACK, then announces a PUBLISH of ``announce`` bytes (MQTT's largest) and
    streams it."""
    def remaining(n: int) -> bytes:
        out = bytearray()
        while True:
            n, byte = divmod(n, 128)
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def serve(conn: socket.socket, stopped: threading.Event) -> None:
        conn.recv(65536)
        conn.sendall(b"\x20\x02\x00\x00")
        conn.sendall(b"\x30" + remaining(announce) + b"\x00\x01t")
        chunk, sent = bytes(1 << 20), 0
        while not stopped.is_set() and sent < announce:
            conn.sendall(chunk)
            sent += len(chunk)

    return _Server(serve)


IMX500_PROFILE = {"name": "rpi-ai-camera", "backend": "imx500"}


def imx500_bundle_tar(path: Path, records: int = 1_300_000) -> Path:
    """An AI Camera bundle (.tar.gz, about 180 KB) whose packerOut.zip has ``records`` directory records."""
    files = {"packerOut.zip": zip_with_many_records(records), "labels.txt": b"a\nb\nc\n"}
    bundle = forge_bundle(files, runtime_for("packerOut.zip", "imx500", "labels.txt"), IMX500_PROFILE)
    path.write_bytes(tar_gz(bundle))
    return path


_WRAPPER = r"""
import json, os, resource, signal, subprocess, sys, time
a = json.loads(sys.argv[1])
p = subprocess.Popen(a["argv"], env=a["env"], cwd=a["cwd"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     stdin=subprocess.DEVNULL)
terminated = False
try:
    out, err = p.communicate(timeout=a["term_after"])
except subprocess.TimeoutExpired:
    terminated = True
    p.send_signal(signal.SIGTERM)
    try:
        out, err = p.communicate(timeout=a["kill_after"])
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
print(json.dumps({"code": p.returncode, "terminated": terminated, "stderr": err.decode(errors="replace")[-3000:],
                  "stdout": out.decode(errors="replace")[-3000:],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def peak_rss(argv: list[str], env: dict[str, str], cwd: Path, term_after: float, kill_after: float = 20) -> dict:
    """Run ``argv`` in a fresh watcher process, SIGTERM it after ``term_after`` s (SIGKILL ``kill_after`` s later),
    and return its exit code, stderr's tail, whether it had to be stopped, and its peak RSS in MB."""
    import subprocess
    import sys

    args = {"argv": argv, "env": env, "cwd": str(cwd), "term_after": term_after, "kill_after": kill_after}
    out = subprocess.run([sys.executable, "-S", "-c", _WRAPPER, json.dumps(args)], capture_output=True, text=True,
                         timeout=term_after + kill_after + 60)
    return json.loads(out.stdout)
