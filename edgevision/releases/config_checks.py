"""Validation of every string a bundle's runtime config carries, at ``bundle`` time and again on the device.

A bundle is data written by someone else: its strings are parsed for what they claim to be (a
camera index, a URL, a path, a port) and refused when they hold control characters, are too long,
or carry a secret that would end up in a world-readable file. Nothing here is ever pasted into a
unit file or a shell; the checks make sure it could not do harm even if it were shown in a log.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from edgevision.errors import BadInput
from edgevision.sinks.secrets import redact_url

MAX_TEXT = 1024
SOURCE_SCHEMES = ("http", "https", "rtsp", "rtsps")
PICAMERA = re.compile(r"^picamera2(:(main|lores))?(:\d{1,5}x\d{1,5})?$")
# Sinks a bundle may ask for: the option of `edgevision run` each one becomes, and how its value is checked.
FLAG_SINKS = frozenset({"no-stdout", "mqtt-discovery", "no-mqtt-discovery"})
VALUE_SINKS = frozenset({"mqtt", "mqtt-node", "mqtt-password-file", "mqtt-username", "mqtt-ca", "mqtt-cert",
                         "mqtt-key", "web", "host", "web-token-file", "read-timeout", "give-up-after"})
SECRET_SINKS = frozenset({"mqtt-password", "web-token"})


def control_char(value: str) -> str | None:
    """The first C0/C1 control character or Unicode line/paragraph separator in ``value``."""
    return next((c for c in value if ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029\u0085"), None)


def check_text(value: str, what: str, limit: int = MAX_TEXT) -> str:
    """Refuse control characters (newlines above all) and unbounded lengths; returns ``value``."""
    if len(value) > limit:
        raise BadInput(f"{what}: {len(value)} characters; at most {limit} are allowed")
    bad = control_char(value)
    if bad is not None:
        raise BadInput(f"{what}: contains the control character {bad!r}; refused")
    return value


def check_source(source: str) -> str:
    """A camera index, picamera2[:main|:lores][:WxH], an http(s)/rtsp URL without a password, or a path."""
    check_text(source, "source")
    if not source.strip() or source.startswith("-"):
        raise BadInput(f"source {source!r} is empty or looks like an option")
    if source.isdigit():
        if int(source) > 63:
            raise BadInput(f"source {source!r}: camera index out of range (0..63)")
        return source
    if source.startswith("picamera2"):
        if not PICAMERA.match(source):
            raise BadInput(f"source {source!r}: expected picamera2[:main|:lores][:WxH]")
        return source
    if "://" in source:
        parts = urlsplit(source)
        if parts.scheme not in SOURCE_SCHEMES or not parts.hostname:
            raise BadInput(f"source {redact_url(source)!r}: expected an {'/'.join(SOURCE_SCHEMES)} URL with a host")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise BadInput(f"source {redact_url(source)!r}: invalid port") from None
        return source
    return source  # a path on the device (image, folder, video); read later with the runtime's own checks


def check_sink(kind: str, value: str | None) -> None:
    """The value of one ``--sink KIND[=VALUE]``, parsed for what ``edgevision run --KIND`` expects."""
    if kind in SECRET_SINKS:
        raise BadInput(f"--sink {kind}: a secret never goes into a bundle (its files are world-readable); "
                       f"put it in a file on the device (mode 0600) and use --sink {kind}-file=PATH")
    if kind in FLAG_SINKS:
        if value is not None:
            raise BadInput(f"--sink {kind}: is a flag and takes no value")
        return
    if kind not in VALUE_SINKS:
        raise BadInput(f"--sink {kind}: unknown sink; known: {', '.join(sorted(FLAG_SINKS | VALUE_SINKS))}")
    if value is None:
        raise BadInput(f"--sink {kind}: needs a value ({kind}=VALUE)")
    check_text(value, f"--sink {kind}")
    if value.startswith("-"):
        raise BadInput(f"--sink {kind}: value {value!r} looks like an option")
    if kind == "mqtt":
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise BadInput(f"--sink mqtt={redact_url(value)}: expected mqtt[s]://[user@]host[:port][/topic]")
        if parts.password:
            raise BadInput(f"--sink mqtt={redact_url(value)}: the URL carries a password, which would be stored "
                           "in the world-readable bundle; put it in a file on the device and add "
                           "--sink mqtt-password-file=PATH")
        try:
            parts.port  # noqa: B018
        except ValueError:
            raise BadInput(f"--sink mqtt={redact_url(value)}: invalid port") from None
    elif kind == "web":
        if not value.isdigit() or int(value) > 65535:
            raise BadInput(f"--sink web={value}: expected a port 0..65535")
    elif kind == "host":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not re.match(r"^[A-Za-z0-9.-]{1,253}$", value):
                raise BadInput(f"--sink host={value}: expected an IP address or host name") from None
    elif kind in ("mqtt-password-file", "mqtt-ca", "mqtt-cert", "mqtt-key", "web-token-file"):
        if not value.startswith("/"):
            raise BadInput(f"--sink {kind}={value}: expected an absolute path on the device")
    elif kind in ("read-timeout", "give-up-after"):
        try:
            if not 0 <= float(value) < 1e7:
                raise ValueError
        except ValueError:
            raise BadInput(f"--sink {kind}={value}: expected seconds") from None
    elif kind in ("mqtt-node", "mqtt-username") and not re.match(r"^[A-Za-z0-9_.@-]{1,64}$", value):
        raise BadInput(f"--sink {kind}={value}: letters, digits, _ . @ - only (at most 64)")
