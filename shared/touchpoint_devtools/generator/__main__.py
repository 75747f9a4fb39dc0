"""Entry point: `python -m touchpoint_devtools.generator --help`."""

from touchpoint_devtools.generator.cli import app

app()
