"""The options ``edgevision run`` accepts, as a table the deploy side can check a runtime config against.

A bundle's runtime config becomes ``run`` flags on the device; before a service is switched to a
release, the device checks that its own edgevision knows every one of them (sinks come and go
between versions). The table lives here, below both the CLI that defines the flags and the deploy
code that checks them, so that deploy never imports the CLI; ``tests/test_cli.py`` keeps it equal
to the typer command's parameters.
"""

from __future__ import annotations

RUN_OPTIONS: frozenset[str] = frozenset({
    "--source", "-s", "--labels", "--top-k", "--threshold", "--smooth", "--threads", "--delegate", "--norm",
    "--realtime", "--no-realtime", "--max-frames", "--loop", "--stdout", "--no-stdout", "--out", "--mqtt",
    "--mqtt-node", "--mqtt-discovery", "--no-mqtt-discovery", "--web", "--host", "--read-timeout",
    "--give-up-after", "--quiet", "-q", "--mqtt-password-file", "--mqtt-ca", "--mqtt-cert", "--mqtt-key",
    "--web-token", "--web-token-file",
})
