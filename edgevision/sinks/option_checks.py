"""How a bundle's value for a sink option is judged beyond its type (each raises BadInput).

A bundle is data written by someone else: its values are parsed for what they claim to be (a URL, a
port, a host). The functions are named in the sink registry's option rows; heavy
imports stay inside them, so reading the registry costs a start nothing.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from edgevision.errors import BadInput
from edgevision.redact import without_userinfo


def mqtt_url(value: str) -> None:
    shown = without_userinfo(value)
    parts = urlsplit(value)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise BadInput(f"--sink mqtt={shown}: expected mqtt[s]://host[:port][/topic]")
    if "@" in parts.netloc:
        raise BadInput(f"--sink mqtt={shown}: the URL carries a user name or password; a bundle carries no "
                       "credentials (its files are world-readable): on the device, `edgevision device secret set "
                       "mqtt-credentials` (user:password)")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise BadInput(f"--sink mqtt={shown}: invalid port") from None


def port(value: str) -> None:
    if not value.isdigit() or int(value) > 65535:
        raise BadInput(f"--sink: {value}: expected a port 0..65535")


def host(value: str) -> None:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not re.match(r"^[A-Za-z0-9.-]{1,253}$", value):
            raise BadInput(f"--sink host={value}: expected an IP address or host name") from None


def node_id(value: str) -> None:
    if not re.match(r"^[A-Za-z0-9_.@-]{1,64}$", value):
        raise BadInput(f"--sink mqtt-node={value}: letters, digits, _ . @ - only (at most 64)")


def seconds(value: str) -> None:
    try:
        if not 0 <= float(value) < 1e7:
            raise ValueError
    except ValueError:
        raise BadInput(f"--sink: {value}: expected seconds") from None


def count(value: str) -> None:
    if not value.isdigit() or not 0 <= int(value) <= 10**9:
        raise BadInput(f"--sink: {value}: expected a count 0..1000000000")


def fraction(value: str) -> None:
    try:
        if not 0 <= float(value) <= 1:
            raise ValueError
    except ValueError:
        raise BadInput(f"--sink: {value}: expected a number from 0 to 1") from None


def positive(value: str) -> None:
    try:
        if not 0 < float(value) < 1e9:
            raise ValueError
    except ValueError:
        raise BadInput(f"--sink: {value}: expected a positive number") from None
