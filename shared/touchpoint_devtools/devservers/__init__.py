"""Real Kafka and PostgreSQL for tests and `make run`, on any machine.

Choice per server, each independently:
1. an environment override (TOUCHPOINT_KAFKA_BOOTSTRAP / TOUCHPOINT_DATABASE_URL): use it as is;
2. a reachable Docker engine: testcontainers (Kafka KRaft, PostgreSQL);
3. local binaries: Kafka's jars from Maven Central + java, PostgreSQL's initdb/pg_ctl.
Set TOUCHPOINT_DEVSERVERS_MODE=local or =docker to force one path.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from touchpoint_devtools.devservers._common import DevServerUnavailable
from touchpoint_devtools.devservers.kafka import LocalKafka, ensure_kafka_libs, run_kafka_tool
from touchpoint_devtools.devservers.postgres import LocalPostgres

__all__ = [
    "DevServerUnavailable",
    "DevServers",
    "LocalKafka",
    "LocalPostgres",
    "ServerInfo",
    "choose_path",
    "ensure_kafka_libs",
    "run_kafka_tool",
    "start_servers",
]

logger = logging.getLogger(__name__)

KAFKA_ENV = "TOUCHPOINT_KAFKA_BOOTSTRAP"
DATABASE_ENV = "TOUCHPOINT_DATABASE_URL"
MODE_ENV = "TOUCHPOINT_DEVSERVERS_MODE"
Path_ = Literal["env", "docker", "local"]


class _Stoppable(Protocol):
    def stop(self) -> None: ...


@dataclass
class ServerInfo:
    """Which server is used, how it was obtained, and how long starting it took."""

    kind: Literal["kafka", "postgres"]
    path: Path_
    address: str
    detail: str
    start_seconds: float = 0.0
    pid: int | None = None
    """The server process when it runs locally (Kafka only; PostgreSQL is run by pg_ctl)."""
    data_dir: str | None = None
    reason: str = ""
    """Why this path was chosen (e.g. "no Docker engine reachable (...)")."""

    def describe(self) -> str:
        """One line for logs and test output."""
        took = f", started in {self.start_seconds:.1f}s" if self.path != "env" else ""
        why = f" [{self.reason}]" if self.reason else ""
        return f"{self.kind}: {self.path} path{why}, {self.detail} at {self.address}{took}"


@dataclass
class DevServers:
    """A running broker and database; stop() stops whatever this handle started."""

    kafka: ServerInfo
    postgres: ServerInfo
    _stoppers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def kafka_bootstrap(self) -> str:
        """host:port of the broker."""
        return self.kafka.address

    @property
    def database_url(self) -> str:
        """SQLAlchemy asyncpg URL of the database."""
        return self.postgres.address

    def describe(self) -> str:
        """Two lines naming the path and version of each server."""
        return f"{self.kafka.describe()}\n{self.postgres.describe()}"

    def stop(self) -> None:
        """Stop the servers this handle started (never the ones given by the environment)."""
        while self._stoppers:
            stopper = self._stoppers.pop()
            try:
                stopper()
            except Exception:
                logger.exception("stopping a dev server failed")


def choose_path(
    kind: Literal["kafka", "postgres"],
    *,
    environ: dict[str, str] | None = None,
    docker_reachable: Callable[[], tuple[bool, str]] | None = None,
) -> tuple[Path_, str]:
    """Which path serves `kind`, and why: env override > Docker > local binaries."""
    env = os.environ if environ is None else environ
    variable = KAFKA_ENV if kind == "kafka" else DATABASE_ENV
    if env.get(variable):
        return "env", f"{variable} is set"
    mode = env.get(MODE_ENV, "auto").lower()
    if mode == "local":
        return "local", f"{MODE_ENV}=local"
    if docker_reachable is None:
        from touchpoint_devtools.devservers.docker import docker_engine_reachable

        docker_reachable = docker_engine_reachable
    reachable, why = docker_reachable()
    if mode == "docker":
        if not reachable:
            raise DevServerUnavailable(f"{MODE_ENV}=docker but {why}")
        return "docker", f"{MODE_ENV}=docker (Docker engine {why})"
    if reachable:
        return "docker", f"Docker engine {why} reachable"
    return "local", why


def _start_kafka(path: Path_, workdir: Path | None) -> tuple[ServerInfo, _Stoppable | None]:
    if path == "env":
        address = os.environ[KAFKA_ENV]
        return ServerInfo("kafka", "env", address, f"existing broker from {KAFKA_ENV}"), None
    started = time.monotonic()
    if path == "docker":
        from touchpoint_devtools.devservers.docker import DockerKafka

        container = DockerKafka()
        address = container.start()
        info = ServerInfo("kafka", "docker", address, f"container {container.image}")
        info.start_seconds = time.monotonic() - started
        return info, container
    broker = LocalKafka(workdir=workdir / "kafka" if workdir else None)
    try:
        address = broker.start()
    except BaseException:
        broker.close()
        raise
    detail = f"Apache Kafka {broker.version} (KRaft, jars from Maven Central, pid {broker.pid})"
    info = ServerInfo("kafka", "local", address, detail, time.monotonic() - started, pid=broker.pid)
    return info, _Closing(broker)


def _start_postgres(path: Path_, workdir: Path | None) -> tuple[ServerInfo, _Stoppable | None]:
    if path == "env":
        address = os.environ[DATABASE_ENV]
        return ServerInfo(
            "postgres", "env", address, f"existing database from {DATABASE_ENV}"
        ), None
    started = time.monotonic()
    if path == "docker":
        from touchpoint_devtools.devservers.docker import DockerPostgres

        container = DockerPostgres()
        address = container.start()
        info = ServerInfo("postgres", "docker", address, f"container {container.image}")
        info.start_seconds = time.monotonic() - started
        return info, container
    database = LocalPostgres(workdir=workdir / "postgres" if workdir else None)
    try:
        address = database.start()
    except BaseException:
        database.close()
        raise
    detail = f"PostgreSQL {database.version} (initdb + pg_ctl, {database.datadir})"
    info = ServerInfo(
        "postgres",
        "local",
        address,
        detail,
        time.monotonic() - started,
        data_dir=str(database.datadir),
    )
    return info, _Closing(database)


@dataclass
class _Closing:
    server: LocalKafka | LocalPostgres

    def stop(self) -> None:
        self.server.close()


def start_servers(workdir: Path | None = None) -> DevServers:
    """Start (or adopt from the environment) a broker and a database; log the path of each."""
    stoppers: list[Callable[[], None]] = []
    try:
        kafka_path, kafka_why = choose_path("kafka")
        logger.info("kafka: using the %s path (%s)", kafka_path, kafka_why)
        kafka, kafka_server = _start_kafka(kafka_path, workdir)
        kafka.reason = kafka_why
        if kafka_server is not None:
            stoppers.append(kafka_server.stop)
        postgres_path, postgres_why = choose_path("postgres")
        logger.info("postgres: using the %s path (%s)", postgres_path, postgres_why)
        postgres, postgres_server = _start_postgres(postgres_path, workdir)
        postgres.reason = postgres_why
        if postgres_server is not None:
            stoppers.append(postgres_server.stop)
    except BaseException:
        for stop in reversed(stoppers):
            stop()
        raise
    servers = DevServers(kafka=kafka, postgres=postgres, _stoppers=stoppers)
    logger.info("dev servers ready:\n%s", servers.describe())
    return servers
