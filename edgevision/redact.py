"""URL credentials (``user:password@``) kept out of whatever is shown or stored.

A camera or broker URL may carry credentials; what a run prints, logs, stores or sends (events'
``source``, error lines, summaries, the labels log, MQTT payloads, the web view) carries the URL
without them. Only the code that connects sees the credentials.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

# scheme://userinfo@ — userinfo may hold a raw '@' (urlsplit splits at the last one before the host)
_USERINFO = r"\b([A-Za-z][A-Za-z0-9+.-]{0,31}://)[^\s/?#\\]*@"  # compiled on first use (re caches it)


def without_userinfo(url: str) -> str:
    """``url`` with its ``user[:password]@`` removed (any other text is returned as it is)."""
    if "@" not in url or "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return scrub_userinfo(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def scrub_userinfo(text: str) -> str:
    """Free text (an error message, a log line) with the credentials of every URL in it removed."""
    return re.sub(_USERINFO, r"\1", text) if "@" in text else text


def userinfo_of(url: str) -> str | None:
    """The ``user[:password]`` part of ``url``, if it has one."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.netloc.rpartition("@")[0] if "@" in parts.netloc else None


def with_userinfo(url: str, credentials: str) -> str:
    """``url`` with ``user[:password]`` put in (percent-encoded where the URL's syntax needs it): what the
    code that connects opens, never what is shown."""
    user, sep, password = credentials.partition(":")
    userinfo = quote(user, safe="!$&'()*+,;=") + (":" + quote(password, safe="!$&'()*+,;=:") if sep else "")
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{userinfo}@{rest}"
