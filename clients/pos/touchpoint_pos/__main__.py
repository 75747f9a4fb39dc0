"""`python -m touchpoint_pos`: the same CLI as `touchpoint-pos`."""

from touchpoint_pos.cli import app

app()
