"""Protection for the live web view once it listens beyond loopback.

- A token, checked on every request (page, stream, events, snapshot): ``?token=`` in the URL
  (the page then sets an HttpOnly cookie so its own stream and event requests carry it) or
  ``Authorization: Bearer``. Compared in constant time.
- The Host header must name this machine (an IP literal, localhost, its host name or
  ``<hostname>.local``), so a web page elsewhere cannot reach the view by DNS rebinding.
- A deadline for each request head as a whole (not for each read) and a byte budget for it, so a
  client trickling bytes cannot hold a connection; connections counted apart before and after they show
  the token (:class:`BoundedServer`), so unauthenticated ones cannot keep the token holder out.
"""

from __future__ import annotations

import hmac
import io
import ipaddress
import logging
import secrets
import socket
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("edgevision.web")

COOKIE = "edgevision_token"
MAX_HEAD_BYTES = 32 * 1024  # request line and headers: a browser sends 1-2 KB


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(18)


def send_body(handler: Any, body: bytes, ctype: str, code: int = 200,
              headers: tuple[tuple[str, str], ...] = ()) -> None:
    """One whole response of an edgevision endpoint (the live view's, the metrics'): never cached, its length
    declared; ``headers`` before the common ones (a cookie, an authentication challenge)."""
    handler.send_response(code)
    for name, value in headers:
        handler.send_header(name, value)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Cache-Control", "no-store")
    handler.end_headers()
    handler.wfile.write(body)


def host_names() -> frozenset[str]:
    """Names this machine answers to, besides IP literals."""
    names = {"localhost", "ip6-localhost"}
    for name in (socket.gethostname(), socket.getfqdn()):
        if name:
            names |= {name.lower(), f"{name.split('.')[0].lower()}.local", name.split(".")[0].lower()}
    return frozenset(names)


def host_allowed(header: str | None, allowed: frozenset[str]) -> bool:
    if not header:
        return False
    host = header.strip().lower()
    if host.startswith("["):  # [v6]:port
        host = host[1:host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return host.rstrip(".") in allowed


def request_token(path: str, headers: Any) -> str | None:
    """The token a request presents: query, bearer header, or the view's cookie."""
    query = parse_qs(urlsplit(path).query)
    if query.get("token"):
        return query["token"][0]
    auth = headers.get("Authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    for part in (headers.get("Cookie") or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def token_ok(expected: str | None, given: str | None) -> bool:
    if expected is None:
        return True
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


class HeadTooLarge(ConnectionError):
    """A request head (request line and headers) past :data:`MAX_HEAD_BYTES`."""


class HeadReader(io.RawIOBase):
    """The reading side of a connection: a request head must arrive whole within its deadline and budget.

    A socket timeout alone bounds each ``recv``, so a client sending one byte every few seconds would
    hold its connection (and a slot) for ever; here the deadline is for the whole head, however it
    trickles in, and so is the byte budget. After the head, nothing more is read until the next request.
    """

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self._deadline: float | None = None
        self._budget = MAX_HEAD_BYTES

    def start(self, seconds: float) -> None:
        """A new request head is due within ``seconds`` (also how long a kept-alive connection may idle)."""
        self._deadline, self._budget = time.monotonic() + seconds, MAX_HEAD_BYTES

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._deadline is not None:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request head did not arrive in time")
            self._sock.settimeout(left)
        if self._budget <= 0:
            raise HeadTooLarge(f"request head larger than {MAX_HEAD_BYTES} bytes")
        view = memoryview(buffer)[:self._budget]
        n = self._sock.recv_into(view)
        self._budget -= n
        return n


class BoundedServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with connections counted in two pools.

    A new connection is a guest until a request on it passes the Host and token checks; then it takes
    one of ``max_clients`` member slots (none left: 503). Guests are at most ``max_guests``: when a new
    one arrives and they are all taken, the oldest guest of the address that holds the most is closed
    (a guest gets its request head in within the deadline, or it is a slow client at best). So clients
    that never authenticate, however many and however slow, cannot keep the token holder out, and an
    authenticated viewer is never closed for a newcomer. A connection reset or timed out is one log line.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any, max_clients: int, max_guests: int | None = None) -> None:
        self._lock = threading.Lock()
        self._guests: dict[Any, tuple[str, float]] = {}  # socket -> (address, arrival)
        self._members: set[Any] = set()
        self.max_clients, self.max_guests = max_clients, max_guests or max_clients
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            if len(self._guests) >= self.max_guests:
                self._close(self._victim())
            self._guests[request] = (str(client_address[0]), time.monotonic())
        try:
            super().process_request(request, client_address)
        except BaseException:
            with self._lock:
                self._guests.pop(request, None)
            raise

    def _victim(self) -> Any:
        """The oldest guest of the address with the most guests."""
        per_address: dict[str, int] = {}
        for address, _ in self._guests.values():
            per_address[address] = per_address.get(address, 0) + 1
        most = max(per_address.values())
        return min((sock for sock, (address, _) in self._guests.items() if per_address[address] == most),
                   key=lambda sock: self._guests[sock][1])

    def _close(self, sock: Any) -> None:
        """Stop serving a guest: its handler's read ends and the thread returns."""
        del self._guests[sock]
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def admit(self, request: Any) -> bool:
        """A guest that passed the checks becomes a member; False when every member slot is taken (or the
        guest was closed meanwhile)."""
        with self._lock:
            if request in self._members:
                return True
            if request not in self._guests or len(self._members) >= self.max_clients:
                return False
            del self._guests[request]
            self._members.add(request)
            return True

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._guests.pop(request, None)
                self._members.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that reset, timed out or sent too much (a socket error) is one line in the log; anything
        else is a bug and keeps its traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # ConnectionResetError, BrokenPipeError, TimeoutError, HeadTooLarge …
            log.info("web view: connection from %s ended: %s", client_address[0],
                     exc.strerror if isinstance(exc, OSError) and exc.strerror else exc or type(exc).__name__)
            return
        log.error("web view: request from %s failed", client_address[0], exc_info=True)
