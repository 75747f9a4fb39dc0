"""Entry point: `python -m touchpoint_ingest.generator --help`."""

from touchpoint_ingest.generator.cli import app

app()
