"""`python -m touchpoint_common.access keys ...`."""

from touchpoint_common.access.cli import app

app()
