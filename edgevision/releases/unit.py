"""The service's systemd unit: rendered from the kit's template for one release, and parsed back.

Parsing is the systemd syntax subset our template uses (sections, repeated keys, quoting,
``%%`` and ``$$`` escapes), so that the user-level supervisor runs exactly what systemd would,
and a test can prove that the ExecStart systemd reads is the argv edgevision meant.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from string import Template

from edgevision.assets import asset_dirs
from edgevision.errors import BadInput
from edgevision.releases.manifest import Manifest
from edgevision.releases.runtime_config import ServiceSettings

UNIT_NAME = "edgevision.service"
TEMPLATE_NAME = "edgevision.service.in"
_SAFE = re.compile(r"^[A-Za-z0-9_@+=:,./-]+$")
HARDENING = "NoNewPrivileges=yes\nProtectSystem=full\nPrivateTmp=yes\n"


def systemd_quote(arg: str, executable: bool = False) -> str:
    """Quote one argument for ExecStart=: specifiers (%) and variables ($) are escaped, spaces quoted.

    The executable (argv[0]) is never variable-expanded by systemd, so its ``$`` stays as is, and
    systemd refuses quotes and backslashes in it outright.
    """
    if executable and any(c in arg for c in "\\\"'"):
        raise BadInput(f"{arg}: systemd refuses quotes or backslashes in the path of the program it runs")
    text = arg.replace("%", "%%") if executable else arg.replace("%", "%%").replace("$", "$$")
    if _SAFE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def env_quote(assignment: str) -> str:
    """Quote one Environment= assignment: specifiers are expanded there, variables are not."""
    text = assignment.replace("%", "%%")
    return text if _SAFE.match(text) else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_join(argv: list[str]) -> str:
    return " ".join(systemd_quote(a, executable=i == 0) for i, a in enumerate(argv))


def split_command(value: str, origin: str) -> list[str]:
    """The argv systemd runs for an Exec*= line written by :func:`systemd_join`."""
    if value[:1] in "-@+!:":
        raise BadInput(f"{origin}: ExecStart prefix {value[0]!r} is not supported by the supervisor")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BadInput(f"{origin}: control characters in a command line")
    try:
        words = shlex.split(value, posix=True)
    except ValueError as exc:
        raise BadInput(f"{origin}: cannot parse {value!r} ({exc})") from None
    out = []
    for i, w in enumerate(words):
        if "%" in w.replace("%%", "") or (i > 0 and "$" in w.replace("$$", "")):
            raise BadInput(f"{origin}: {w!r} uses a systemd specifier or variable the supervisor cannot expand")
        w = w.replace("%%", "%")
        out.append(w if i == 0 else w.replace("$$", "$"))
    if not out:
        raise BadInput(f"{origin}: empty command")
    return out


def parse_unit(text: str, origin: str) -> dict[str, list[tuple[str, str]]]:
    """Sections -> ordered (key, value) pairs, with continuation lines joined; an empty value resets a key."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    pending = ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = pending + raw.strip() if pending else raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        if not sep or current is None or not re.match(r"^[A-Za-z][A-Za-z0-9]*$", key.strip()):
            raise BadInput(f"{origin}:{n}: not a unit file line: {raw!r}")
        key, value = key.strip(), value.strip()
        if key.startswith("Exec"):
            if not value:  # a reset is how an injected line would drop the real command: never in our units
                raise BadInput(f"{origin}:{n}: empty {key}= (a reset) is refused by the supervisor")
            split_command(value, f"{origin}:{n}")  # every command line must parse, even one a later line replaces
        if not value:
            current[:] = [(k, v) for k, v in current if k != key]
        else:
            current.append((key, value))
    if pending:
        raise BadInput(f"{origin}: ends inside a continued line")
    return sections


def values(sections: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in sections.get(section, []) if k == key]


def environment(sections: dict[str, list[tuple[str, str]]], origin: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in values(sections, "Service", "Environment"):
        for item in shlex.split(value, posix=True):
            name, sep, val = item.partition("=")
            if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise BadInput(f"{origin}: bad Environment entry {item!r}")
            env[name] = val.replace("%%", "%")
    return env


@dataclass(frozen=True)
class UnitContext:
    """Everything a rendered unit depends on besides the release's manifest."""

    root: Path
    python: str
    scope: str = "user"          # "system" (a unit in /etc/systemd/system, User=) or "user" (systemctl --user)
    user: str | None = None      # User= for a system unit


def find_template(root: Path) -> Path:
    """The kit's unit template: the copy deploy put on the device, else the one in a source checkout."""
    for candidate in (root / "kit" / TEMPLATE_NAME, *(d / TEMPLATE_NAME for d in asset_dirs("device", "kit"))):
        if candidate.is_file():
            return candidate
    raise BadInput(f"no service template: {root / 'kit' / TEMPLATE_NAME} is missing (deploy copies it there; "
                   "or copy device/kit/ from the edgevision sources)")


def serve_argv(python: str, root: Path) -> list[str]:
    """The one command every release's service runs: it reads and verifies the release itself."""
    return [python, "-m", "edgevision", "device", "serve", "--root", str(root)]


def render_unit(template: str, manifest: Manifest, release: Path, ctx: UnitContext, labels_out: Path) -> str:
    """The constant unit: only the device's own root, interpreter and user, plus the profile's validated
    integers and group names; the release's strings (model, source, sinks) never reach it."""
    for what, value in (("device root", str(ctx.root)), ("interpreter", ctx.python), ("user", ctx.user or "")):
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise BadInput(f"{value!r}: control characters in the {what} cannot go into a unit file")
    if ctx.user and not re.match(r"^[a-z_][a-z0-9_-]*[$]?$", ctx.user):
        raise BadInput(f"{ctx.user!r}: not a user name systemd accepts")
    settings = ServiceSettings.from_dict(manifest.profile.get("service", {}), f"release {release.name} [service]")
    argv = serve_argv(ctx.python, ctx.root)
    rotate = [ctx.python, "-m", "edgevision", "device", "labels-rotate", "--root", str(ctx.root),
              "--max-mb", str(settings.labels_max_mb)]
    user_lines = ""
    if ctx.scope == "system":
        if ctx.user:
            user_lines += f"User={ctx.user}\n"
        if settings.supplementary_groups:
            user_lines += f"SupplementaryGroups={' '.join(settings.supplementary_groups)}\n"
    try:
        return Template(template).substitute(
            scope=ctx.scope, user_lines=user_lines, root=str(ctx.root).replace("%", "%%"),
            root_env=env_quote(f"EDGEVISION_DEVICE_ROOT={ctx.root}"), rotate_labels=systemd_join(rotate),
            exec_start=systemd_join(argv), restart_sec=str(settings.restart_sec), nice=str(settings.nice),
            hardening=HARDENING if ctx.scope == "system" else "",
            wanted_by="multi-user.target" if ctx.scope == "system" else "default.target")
    except (KeyError, ValueError) as exc:
        raise BadInput(f"unit template: unknown or malformed placeholder {exc}") from None
