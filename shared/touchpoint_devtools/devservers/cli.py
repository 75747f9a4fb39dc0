"""`python -m touchpoint_devtools.devservers`: a broker and a database for development."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from touchpoint_common.db.engine import create_engine
from touchpoint_common.db.migrate import run_migrations
from touchpoint_common.kafka.admin import create_topics
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers import (
    DevServers,
    DevServerUnavailable,
    ensure_kafka_libs,
    start_servers,
)

app = typer.Typer(
    help="Real Kafka and PostgreSQL for local development and tests.",
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main() -> None:
    """Real Kafka and PostgreSQL for local development and tests."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")


async def prepare(settings: CommonSettings) -> None:
    """Create the system's topics and migrate the database to head."""
    await create_topics(settings)
    engine = create_engine(settings)
    try:
        await run_migrations(engine)
    finally:
        await engine.dispose()


def write_env_file(path: Path, servers: DevServers) -> None:
    """Write the two variables atomically, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    content = (
        f"TOUCHPOINT_KAFKA_BOOTSTRAP={servers.kafka_bootstrap}\n"
        f"TOUCHPOINT_DATABASE_URL={servers.database_url}\n"
    )
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(content)
    staging.replace(path)


@app.command()
def up(
    env_file: Annotated[
        Path | None, typer.Option(help="Write TOUCHPOINT_* variables here once ready.")
    ] = None,
    workdir: Annotated[
        Path | None, typer.Option(help="Data folder (default: a new temporary folder).")
    ] = None,
) -> None:
    """Start the servers, create topics, migrate, print the variables; stop on SIGINT/SIGTERM."""
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    base = workdir or Path(tempfile.mkdtemp(prefix="touchpoint-devservers-"))
    try:
        servers = start_servers(workdir=base)
    except DevServerUnavailable as exc:
        typer.echo(f"cannot start dev servers: {exc}", err=True)
        if workdir is None:
            shutil.rmtree(base, ignore_errors=True)
        raise typer.Exit(1) from exc
    try:
        settings = CommonSettings(
            kafka_bootstrap=servers.kafka_bootstrap, database_url=servers.database_url
        )
        asyncio.run(prepare(settings))
        if env_file is not None:
            write_env_file(env_file, servers)
        typer.echo(servers.describe())
        typer.echo(f"TOUCHPOINT_KAFKA_BOOTSTRAP={servers.kafka_bootstrap}")
        typer.echo(f"TOUCHPOINT_DATABASE_URL={servers.database_url}")
        typer.echo(f"ready (pid {os.getpid()}); Ctrl-C or SIGTERM stops everything", err=True)
        while not stop_requested.wait(timeout=1.0):
            pass
    finally:
        typer.echo("stopping dev servers", err=True)
        if env_file is not None:
            env_file.unlink(missing_ok=True)
        servers.stop()
        if workdir is None:
            shutil.rmtree(base, ignore_errors=True)
        typer.echo("stopped", err=True)


@app.command()
def fetch() -> None:
    """Download and cache the Kafka jars now (what the first `up` or test run would do)."""
    typer.echo(str(ensure_kafka_libs()))


@app.command("run")
def run_all(
    ingest_port: Annotated[int, typer.Option(envvar="INGEST_PORT")] = 8001,
    profile_port: Annotated[int, typer.Option(envvar="PROFILE_PORT")] = 8002,
    recommend_port: Annotated[int, typer.Option(envvar="RECOMMEND_PORT")] = 8003,
) -> None:
    """`make run`: servers plus the three services; Ctrl-C or `stop` ends all of it."""
    from touchpoint_devtools.devservers.run import run

    raise typer.Exit(
        run(ingest_port=ingest_port, profile_port=profile_port, recommend_port=recommend_port)
    )


@app.command()
def stop() -> None:
    """`make stop`: stop what `run` started (from another shell)."""
    from touchpoint_devtools.devservers.run import request_stop

    raise typer.Exit(request_stop())


if __name__ == "__main__":
    app()
