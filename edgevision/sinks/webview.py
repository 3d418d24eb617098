"""Live web view: the video with the current labels drawn on it, and labels pushed to the page.

``GET /`` a page; ``/stream.mjpg`` MJPEG of annotated frames; ``/events`` Server-Sent
Events (one JSON label event per message, ``status`` messages when the source comes and
goes, ``drift`` messages when the drift monitor's state flips); ``/snapshot.jpg``, ``/latest.json``
and ``/drift.json`` (the drift monitor's latest verdict). Standard library HTTP server, bound to
127.0.0.1 unless told otherwise: a camera feed is not something to expose by accident.

The pipeline thread only hands over references; JPEG encoding runs in the view's own
thread, only while someone watches, at most ``max_fps`` times a second, so an open
browser tab never slows inference down. Slow clients skip frames instead of queueing.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

import numpy as np

from edgevision.console import inert_html
from edgevision.errors import BadInput
from edgevision.pipeline.events import LabelEvent
from edgevision.runtime.frames import Frame
from edgevision.sinks import web_auth
from edgevision.sinks.registry import SinkConfig, SinkContext
from edgevision.sinks.secrets import read_secret_file
from edgevision.sources.capture import CaptureStatus

if TYPE_CHECKING:
    from edgevision.pipeline.drift_event import DriftEvent

log = logging.getLogger("edgevision.web")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgevision live</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#111;color:#eee;display:flex;flex-wrap:wrap;gap:1rem;padding:1rem}
#video{max-width:100%;border:1px solid #333;background:#000;min-width:320px;min-height:240px}
#label{font-size:2.2rem;margin:0} #score{color:#9c9} ol{padding-left:1.2rem} #status{color:#fa3}
#drift.drifting{color:#f66;font-weight:bold} #drift.ok{color:#9c9}
.meta{color:#888;font-size:.85rem}
</style></head><body>
<img id="video" src="/stream.mjpg" alt="live video">
<div><p class="meta">__TITLE__</p><h1 id="label">waiting…</h1><div id="score"></div><ol id="topk"></ol>
<div id="status"></div><div id="drift"></div><p class="meta" id="timing"></p></div>
<script>
const $ = (id) => document.getElementById(id);
const es = new EventSource('/events');
es.onmessage = (m) => {
  const e = JSON.parse(m.data);
  $('label').textContent = e.label || '(below threshold)';
  $('score').textContent = (e.score * 100).toFixed(1) + ' %';
  $('topk').replaceChildren(...e.top_k.map(p => {
    const li = document.createElement('li'); li.textContent = p.label + ' ' + (p.score * 100).toFixed(1) + ' %';
    return li; }));
  $('timing').textContent = 'frame ' + e.frame + ' · ' + e.latency_ms.toFixed(0) + ' ms glass-to-label · '
    + e.dropped + ' dropped';
  $('status').textContent = '';
};
es.addEventListener('status', (m) => { $('status').textContent = 'source ' + JSON.parse(m.data).state; });
es.addEventListener('drift', (m) => {
  const d = JSON.parse(m.data);
  $('drift').className = d.state;
  $('drift').textContent = d.state === 'drifting' ? 'drifting: ' + d.moved.join(', ') : 'no drift';
});
es.onerror = () => { $('status').textContent = 'connection to the device lost; retrying…'; };
</script></body></html>
"""


def annotate(image: np.ndarray, event: LabelEvent, max_width: int = 640, order: str = "RGB") -> np.ndarray:
    """A BGR copy of the frame (channels in ``order``), at most ``max_width`` wide, with the top-k labels
    drawn on it. BGR frames (what OpenCV sources deliver) are only copied, never swapped."""
    import cv2

    h, w = image.shape[:2]
    if w > max_width:
        image = cv2.resize(image, (max_width, max(1, round(h * max_width / w))), interpolation=cv2.INTER_AREA)
    elif w < 320:  # tiny model-sized frames: enlarge so the text stays readable
        f = 320 / w
        image = cv2.resize(image, (320, max(1, round(h * f))), interpolation=cv2.INTER_NEAREST)
    # drawn on, so never the pipeline's own frame: a resized image is a copy already
    img = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if order != "BGR" else image if image.shape[1] != w else image.copy()
    lines = [f"{p.label} {p.score * 100:.1f}%" for p in event.top_k] or ["(below threshold)"]
    for i, text in enumerate(lines):
        y = 24 + 22 * i
        scale, thick = (0.7, 2) if i == 0 else (0.55, 1)
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        cv2.rectangle(img, (4, y - th - 6), (12 + tw, y + 6), (0, 0, 0), -1)
        cv2.putText(img, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (80, 255, 80) if i == 0 else (230, 230, 230),
                    thick, cv2.LINE_AA)
    return img


class WebView:
    """A sink serving the live view over HTTP; ``url`` says where."""

    wants_frames = True

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, max_fps: float = 15.0, title: str = "",
                 token: str | None = None, max_clients: int = 16, timeout: float = 10.0,
                 max_guests: int | None = None) -> None:
        """``timeout``: seconds a request head may take to arrive whole (and a kept-alive connection may
        idle; a stalled write gives up after as long); ``max_clients`` viewers that showed the token,
        ``max_guests`` connections that have not yet (default: as many)."""
        self.max_fps, self.title = max_fps, title
        # Beyond loopback a token is required: the one given, else a new one (``generated_token``).
        self.generated_token = token is None and not web_auth.is_loopback(host)
        self.token = web_auth.new_token() if self.generated_token else token
        if self.token is not None and (len(self.token) < 8 or not self.token.isprintable() or " " in self.token):
            raise BadInput("--web-token: at least 8 printable characters, no spaces")
        self.timeout, self._allowed_hosts = timeout, web_auth.host_names()
        self._cond = threading.Condition()
        self._pending: tuple[LabelEvent, Frame | None] | None = None
        self._jpeg: bytes | None = None
        self._jpeg_seq = 0
        self._event_json: str | None = None
        self._event_seq = 0
        self._status: str | None = None
        self._status_seq = 0
        self._drift: str | None = None
        self._drift_seq = 0
        self._viewers = 0
        self._closed = False
        try:
            self._server = web_auth.BoundedServer((host, port), self._handler(), max_clients, max_guests)
        except OSError as exc:
            raise BadInput(f"--web {host}:{port}: cannot listen ({exc.strerror or exc})") from None
        self._server.daemon_threads = True
        self.host, self.port = host, int(self._server.server_address[1])
        self.name = self.url
        self._threads = [threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                          name="edgevision-web", daemon=True),
                         threading.Thread(target=self._encode_loop, name="edgevision-jpeg", daemon=True)]
        for t in self._threads:
            t.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def share_url(self) -> str:
        """The URL to open, token included (print it once; ``url`` and ``name`` never carry it)."""
        return self.url + (f"?token={self.token}" if self.token else "")

    def announce(self) -> str:
        """What the person starting the run needs: where to look (with the token, shown this once)."""
        return f"live view: {self.share_url}"

    # pipeline thread: cheap hand-over only -------------------------------------------------------------------------
    def emit(self, event: LabelEvent, frame: Frame | None = None) -> None:
        data = event.to_json()
        with self._cond:
            self._event_json, self._event_seq = data, self._event_seq + 1
            if frame is not None:
                self._pending = (event, frame)
            self._cond.notify_all()

    def status(self, status: CaptureStatus) -> None:
        with self._cond:
            self._status = json.dumps({"state": status.state, "detail": status.detail})
            self._status_seq += 1
            self._cond.notify_all()

    def drift(self, event: DriftEvent) -> None:
        """The drift monitor's verdict: pushed to the page when the state flips (and the first one)."""
        if not event.changed and self._drift is not None:
            return
        data = event.to_json()
        with self._cond:
            self._drift, self._drift_seq = data, self._drift_seq + 1
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    # encoder thread ------------------------------------------------------------------------------------------------
    def _encode_loop(self) -> None:
        import cv2

        period = 1.0 / self.max_fps if self.max_fps > 0 else 0.0
        while True:
            with self._cond:
                while not self._closed and (self._pending is None or self._viewers == 0):
                    self._cond.wait(0.5)
                if self._closed:
                    return
                pending, self._pending = self._pending, None
            t0 = time.monotonic()
            event, frame = pending  # type: ignore[misc]
            if frame is not None:
                img = annotate(frame.image, event, order=frame.order)
                ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
                if ok:
                    with self._cond:
                        self._jpeg, self._jpeg_seq = buf.tobytes(), self._jpeg_seq + 1
                        self._cond.notify_all()
            rest = period - (time.monotonic() - t0)
            if rest > 0:
                time.sleep(rest)

    # HTTP ----------------------------------------------------------------------------------------------------------
    def _wait(self, attr: str, seen: int, timeout: float) -> int:
        with self._cond:
            if getattr(self, attr) == seen and not self._closed:
                self._cond.wait(timeout)
            return int(getattr(self, attr))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        view = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = view.timeout  # for writes: a client that stops reading gives its thread back
            server: web_auth.BoundedServer

            def setup(self) -> None:
                super().setup()
                self.rfile.close()  # the plain socket file: reads go through the head's deadline instead
                self._head = web_auth.HeadReader(self.connection)
                self.rfile = io.BufferedReader(self._head)  # reads with a deadline for the whole head

            def handle_one_request(self) -> None:
                self._head.start(view.timeout)
                super().handle_one_request()

            def _refused(self) -> bool:
                """Host and token checks, before any content; True when the request was answered with an error."""
                if not web_auth.host_allowed(self.headers.get("Host"), view._allowed_hosts):
                    self._send(b"unknown Host\n", "text/plain", 421)
                    return True
                if not web_auth.token_ok(view.token, web_auth.request_token(self.path, self.headers)):
                    self._send(b"a token is required: open the URL edgevision printed (?token=...)\n",
                               "text/plain", 401)
                    return True
                return False

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s %s", self.address_string(), format % args)

            def _send(self, body: bytes, ctype: str, code: int = 200, cookie: bool = False) -> None:
                jar = (("Set-Cookie", f"{web_auth.COOKIE}={view.token}; HttpOnly; SameSite=Strict; Path=/"),) \
                    if cookie and view.token else ()
                web_auth.send_body(self, body, ctype, code, jar)

            def do_GET(self) -> None:
                self.connection.settimeout(view.timeout)  # the head is in: from here on, writes
                path = self.path.split("?", 1)[0]
                try:
                    if self._refused():
                        return
                    if not self.server.admit(self.connection):
                        self.close_connection = True
                        self._send(b"too many viewers; retry later\n", "text/plain", 503)
                        return
                    if path in ("/", "/index.html"):
                        self._send(PAGE.replace("__TITLE__", inert_html(view.title)).encode(),
                                   "text/html; charset=utf-8", cookie=True)
                    elif path == "/stream.mjpg":
                        self._mjpeg()
                    elif path == "/events":
                        self._events()
                    elif path == "/latest.json":
                        self._send((view._event_json or "null").encode(), "application/json")
                    elif path == "/drift.json":
                        self._send((view._drift or "null").encode(), "application/json")
                    elif path == "/snapshot.jpg":
                        self._snapshot()
                    else:
                        self._send(b"not found\n", "text/plain", 404)
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    pass  # the browser went away

            def _snapshot(self) -> None:
                with view._cond:
                    view._viewers += 1
                    view._cond.notify_all()
                try:
                    if view._jpeg is None:
                        view._wait("_jpeg_seq", 0, 3.0)
                finally:
                    with view._cond:
                        view._viewers -= 1
                if view._jpeg is None:
                    self._send(b"no frame yet\n", "text/plain", 503)
                else:
                    self._send(view._jpeg, "image/jpeg")

            def _mjpeg(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Connection", "close")
                self.end_headers()
                with view._cond:
                    view._viewers += 1
                    view._cond.notify_all()
                try:
                    seen = 0
                    while not view._closed:
                        seq = view._wait("_jpeg_seq", seen, 1.0)
                        if seq == seen or view._jpeg is None:
                            continue
                        seen, jpeg = seq, view._jpeg
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                        self.wfile.flush()
                finally:
                    with view._cond:
                        view._viewers -= 1

            def _events(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"retry: 1000\n\n")
                seen_event, seen_status, last_write = 0, view._status_seq, time.monotonic()
                seen_drift = 0  # a new page is told the current drift state at once
                while not view._closed:
                    seq = view._wait("_event_seq", seen_event, 1.0)
                    out = b""
                    if seq != seen_event and view._event_json:
                        seen_event = seq
                        out += b"data: " + view._event_json.encode() + b"\n\n"
                    if view._status_seq != seen_status and view._status:
                        seen_status = view._status_seq
                        out += b"event: status\ndata: " + view._status.encode() + b"\n\n"
                    if view._drift_seq != seen_drift and view._drift:
                        seen_drift = view._drift_seq
                        out += b"event: drift\ndata: " + view._drift.encode() + b"\n\n"
                    if not out and time.monotonic() - last_write > 15:
                        out = b": keep-alive\n\n"
                    if out:
                        self.wfile.write(out)
                        self.wfile.flush()
                        last_write = time.monotonic()
                    if view.max_fps > 0:
                        time.sleep(1.0 / view.max_fps)

        return Handler


def open_sink(config: SinkConfig, context: SinkContext) -> WebView:
    """The ``web`` sink: the view on ``--web`` PORT at ``--host``, protected by a token beyond loopback."""
    host, token_file = config.value("host", "127.0.0.1"), config.value("web_token_file")
    token = read_secret_file(token_file, "--web-token-file") if token_file else config.value("web_token")
    if token is None and not web_auth.is_loopback(host) and context.quiet:
        raise BadInput(f"--host {host}: a live view beyond loopback needs a token, and --quiet would hide the "
                       "generated one; pass --web-token-file FILE or $EDGEVISION_WEB_TOKEN (on a device: "
                       "`edgevision device secret set web-token`)")
    return WebView(host, int(config.value("web")), title=context.model_name, token=token)
