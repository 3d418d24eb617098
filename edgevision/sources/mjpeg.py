"""HTTP MJPEG cameras (``multipart/x-mixed-replace``), read by edgevision: every part bounded, the socket closable.

IP cameras, mjpg-streamer, ESP32-CAM and motion serve a never-ending HTTP response of JPEG parts,
each introduced by a boundary line and its own headers. FFmpeg (OpenCV's reader) trusts what a part
claims: one that never ends, or announces 4 GB, is read into memory until the read times out, and
the hung read sits in C code that no other thread can interrupt, so each reconnection leaves one more
abandoned read holding its socket and buffer. This reader parses the stream itself and bounds each
part while it arrives: its headers (``http_header_bytes``), its size (``frame_bytes``, from its
Content-Length before a byte of it is read, or counted when the camera sends none) and its duration
(``frame_seconds``, from its first byte to its last). A part past a bound ends the connection; the
capture watchdog reconnects. Each socket read waits at most the source's read timeout, and
:meth:`close` shuts the socket from any thread, so a read the watchdog gives up on returns at once
and its buffer goes with it.

``grab()`` only reads a part's bytes and ``retrieve()`` decodes it (after its header's pixel count is
checked), so frames the latest-frame slot would drop are never decoded. A URL whose response is not
multipart (a single JPEG, an MP4 over HTTP, an HLS playlist) is handed to OpenCV's reader.
"""

from __future__ import annotations

import base64
import http.client
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from edgevision.errors import BadInput
from edgevision.limits import Limits, hint, limits
from edgevision.redact import without_userinfo
from edgevision.runtime.frames import Frame, SourceInfo

MULTIPART = "multipart/x-mixed-replace"
_BOUNDARY = re.compile(r'boundary\s*=\s*"?([^";,\s]{1,70})"?', re.IGNORECASE)
_READ = 64 * 1024


class StreamError(BadInput):
    """The camera sent something a frame cannot be made of (a part past a bound, a broken stream)."""


class MultipartReader:
    """The parts of a ``multipart/x-mixed-replace`` body, read from ``read1`` (at most n bytes, b"" at the end),
    each bounded in header bytes, size and time (:data:`~edgevision.limits.LIMITS`)."""

    def __init__(self, read1: Callable[[int], bytes], marker: bytes, name: str, lim: Limits,
                 closed: Callable[[], bool] = lambda: False) -> None:
        self.read1, self._marker, self.name, self._limits, self.closed = read1, marker, name, lim, closed
        self._buf = bytearray()

    def _name(self) -> str:
        return self.name

    def _fill(self, deadline: float) -> None:
        """Append what the socket has (at most 64 KB) to the buffer; a part that runs past its deadline ends."""
        if self.closed():
            raise StreamError(f"{self._name()}: stream closed")
        if time.monotonic() > deadline:
            raise StreamError(f"{self._name()}: a frame took longer than {self._limits.frame_seconds} s to arrive "
                              f"({hint('frame_seconds')})")
        try:
            chunk = self.read1(_READ)
        except (OSError, http.client.HTTPException, ValueError, AttributeError) as exc:
            if self.closed():
                raise StreamError(f"{self._name()}: stream closed") from None
            raise StreamError(f"{self._name()}: stream failed ({exc.__class__.__name__})") from None
        if not chunk:
            raise StreamError(f"{self._name()}: the camera closed the stream")
        self._buf += chunk

    def _line(self, deadline: float, limit: int) -> bytes:
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[:end + 1])
                del self._buf[:end + 1]
                return line.rstrip(b"\r\n")
            if len(self._buf) > limit:
                raise StreamError(f"{self._name()}: a header line of the stream is over {limit:,} bytes")
            self._fill(deadline)

    def next_part(self) -> bytes:
        """The next part's body: the boundary, the part's headers, then its bytes, all bounded."""
        lim = self._limits
        deadline = time.monotonic() + lim.frame_seconds
        skipped = 0
        while True:  # the boundary line (a camera may send a preamble or blank lines before it)
            line = self._line(deadline, lim.http_header_bytes)
            if line.strip() in (self._marker, self._marker + b"--"):
                if line.strip().endswith(b"--") and line.strip() != self._marker:
                    raise StreamError(f"{self._name()}: the camera ended the stream")
                break
            skipped += len(line) + 2
            if skipped > lim.frame_bytes:
                raise StreamError(f"{self._name()}: no part boundary in {lim.frame_bytes:,} bytes "
                                  f"({hint('frame_bytes')})")
        length, header_bytes = None, 0
        while True:  # the part's headers, up to the blank line
            line = self._line(deadline, lim.http_header_bytes)
            header_bytes += len(line) + 2
            if header_bytes > lim.http_header_bytes:
                raise StreamError(f"{self._name()}: a part's headers are over {lim.http_header_bytes:,} bytes")
            if not line.strip():
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                text = value.strip()
                if not text.isdigit() or len(text) > 15:
                    raise StreamError(f"{self._name()}: a part's Content-Length {text[:20]!r} is not a size")
                length = int(text)
                if length > lim.frame_bytes:
                    raise StreamError(f"{self._name()}: a part announces {length:,} bytes, over the "
                                      f"{lim.frame_bytes:,}-byte frame limit ({hint('frame_bytes')})")
        if length is not None:
            while len(self._buf) < length:
                self._fill(deadline)
            body = bytes(self._buf[:length])
            del self._buf[:length]
            return body
        end = b"\r\n" + self._marker  # no length: the part runs to the next boundary
        start = 0
        while (at := self._buf.find(end, start)) < 0:
            if len(self._buf) > lim.frame_bytes:
                raise StreamError(f"{self._name()}: a part without a length ran past {lim.frame_bytes:,} bytes "
                                  f"({hint('frame_bytes')})")
            start = max(0, len(self._buf) - len(end))
            self._fill(deadline)
        body = bytes(self._buf[:at])
        del self._buf[:at + 2]  # the boundary line stays for the next part
        return body



class MjpegSource:
    """A live HTTP(S) MJPEG camera: frames as JPEG bytes (``grab``), decoded on demand (``retrieve``)."""

    live = True
    interruptible = True  # close() may be called from another thread while a read waits (the watchdog does)

    def __init__(self, url: str, timeout_s: float = 5.0, fallback: Callable[[], Any] | None = None) -> None:
        self.url, self.timeout_s = url, timeout_s
        self._shown = without_userinfo(url)
        self.make_fallback = fallback  # the reader of a response that is not multipart (OpenCV's)
        self._conn: http.client.HTTPConnection | None = None
        self._resp: http.client.HTTPResponse | None = None
        self._sock: socket.socket | None = None
        self._parts: MultipartReader | None = None
        self._jpeg: bytes | None = None
        self._grabbed_at: tuple[float, float] | None = None
        self._count = 0
        self._closed = threading.Event()
        self._fallback: Any = None
        self._limits: Limits = limits()

    def fresh(self) -> MjpegSource:
        return MjpegSource(self.url, self.timeout_s, self.make_fallback)

    # -- connection ----------------------------------------------------------------------------------

    def open(self) -> SourceInfo:
        try:
            parts = urlsplit(self.url)
            port = parts.port
        except ValueError as exc:
            raise BadInput(f"{self._name()}: not a valid URL ({exc})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadInput(f"{self._name()}: not an http(s) URL")
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname, port, timeout=self.timeout_s)
        headers = {"User-Agent": "edgevision", "Accept": f"{MULTIPART}, image/jpeg"}
        if parts.username is not None:
            token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        self._conn = conn
        try:
            conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), headers=headers)
            self._sock = conn.sock
            resp = conn.getresponse()  # http.client bounds the status line, each header line and their count
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise BadInput(f"{self._name()}: cannot open stream ({exc.__class__.__name__}: {exc})") from None
        if resp.status != 200:
            self.close()
            raise BadInput(f"{self._name()}: the camera answered HTTP {resp.status} {resp.reason[:80]}")
        kind = resp.getheader("Content-Type", "") or ""
        found = _BOUNDARY.search(kind)
        if not kind.lower().startswith(MULTIPART) or not found:
            self.close()
            return self._open_fallback()
        boundary = found.group(1).encode("latin-1")
        self._resp = resp
        self._parts = MultipartReader(resp.read1, b"--" + boundary.removeprefix(b"--"), self._name(), self._limits,
                                      self._closed.is_set)
        return SourceInfo(name=self._name(), kind="stream", live=True, fps=None, width=None, height=None,
                          pixel_format="MJPEG over HTTP, JPEG decoded to BGR by OpenCV")

    def _open_fallback(self) -> SourceInfo:
        if self.make_fallback is None:
            raise BadInput(f"{self._name()}: not an MJPEG stream (no {MULTIPART} response)")
        self.interruptible = False  # OpenCV's reader: close() only from the thread that reads
        self._closed.clear()
        self._fallback = self.make_fallback()
        return self._fallback.open()  # type: ignore[no-any-return]

    def _name(self) -> str:
        """The URL as said in messages, events and summaries: without user and password."""
        return self._shown

    def close(self) -> None:
        """Shut the connection; safe from another thread (a read blocked on the socket returns at once)."""
        self._closed.set()
        if self._fallback is not None:
            self._fallback.close()
            return
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        self._resp, self._parts = None, None

    def grab(self) -> bool:
        """Read the next frame's JPEG bytes without decoding them (False at the end of the stream)."""
        if self._fallback is not None:
            return bool(self._fallback.grab())
        parts = self._parts
        if parts is None:
            return False
        t0 = time.perf_counter()
        try:
            self._jpeg = parts.next_part()
        except StreamError:
            if self._closed.is_set():
                return False
            raise
        self._grabbed_at = (time.time(), (time.perf_counter() - t0) * 1e3)
        return True

    def retrieve(self) -> Frame | None:
        """Decode the last grabbed frame (BGR); None if there is none or it is not an image within the limits."""
        if self._fallback is not None:
            return self._fallback.retrieve()  # type: ignore[no-any-return]
        jpeg, grabbed, self._jpeg = self._jpeg, self._grabbed_at, None
        if jpeg is None or grabbed is None:
            return None
        import cv2
        import numpy as np

        from edgevision.runtime.image_header import check_pixels

        t0 = time.perf_counter()
        try:
            check_pixels(jpeg, self._name())
        except BadInput:
            return None
        img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) if jpeg else None
        if img is None:
            return None
        t_wall, grab_ms = grabbed
        frame = Frame(img, self._count, self._name(), t_wall, grab_ms + (time.perf_counter() - t0) * 1e3, "BGR")
        self._count += 1
        return frame

    def read(self) -> Frame | None:
        if self._fallback is not None:
            return self._fallback.read()  # type: ignore[no-any-return]
        while self.grab():
            frame = self.retrieve()
            if frame is not None:
                return frame
        return None
