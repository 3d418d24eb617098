"""``python -m edgevision`` runs the CLI."""

from edgevision.cli.main import main

main()
