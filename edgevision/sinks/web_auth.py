"""Protection for the live web view once it listens beyond loopback.

- A token, checked on every request (page, stream, events, snapshot): ``?token=`` in the URL
  (the page then sets an HttpOnly cookie so its own stream and event requests carry it) or
  ``Authorization: Bearer``. Compared in constant time.
- The Host header must name this machine (an IP literal, localhost, its host name or
  ``<hostname>.local``), so a web page elsewhere cannot reach the view by DNS rebinding.
- A bounded number of connections, each with a socket timeout: idle or half-sent requests
  cannot pile up threads.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
import threading
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

COOKIE = "edgevision_token"
BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 5\r\n\r\n"


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(18)


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


class BoundedServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with at most ``max_clients`` connections served at once; more get 503."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any, max_clients: int) -> None:
        self._slots = threading.BoundedSemaphore(max_clients)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            try:
                request.settimeout(0.0)
                try:  # read what the client already sent: closing over unread data would reset the 503 away
                    request.recv(65536)
                except (BlockingIOError, InterruptedError):
                    pass
                request.settimeout(1.0)
                request.sendall(BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()
