"""Entry point: `python -m touchpoint_devtools.chaos --help`."""

from touchpoint_devtools.chaos.cli import app

app()
