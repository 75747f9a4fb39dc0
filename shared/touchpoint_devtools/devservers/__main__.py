"""`python -m touchpoint_devtools.devservers up|run|stop|fetch` (what `make run` calls)."""

from touchpoint_devtools.devservers.cli import app

app(prog_name="python -m touchpoint_devtools.devservers")
