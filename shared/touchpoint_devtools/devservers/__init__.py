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

from touchpoint_devtools.devservers._common import DevServerUnavailable, prefer_port
from touchpoint_devtools.devservers.kafka import LocalKafka, ensure_kafka_libs, run_kafka_tool
from touchpoint_devtools.devservers.postgres import LocalPostgres

__all__ = [
    "CONVENTIONAL_PORTS",
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
Kind = Literal["kafka", "postgres"]


class _Stoppable(Protocol):
    def stop(self) -> None: ...


@dataclass
class ServerInfo:
    """Which server is used, how it was obtained, and how long starting it took."""

    kind: Kind
    path: Path_
    address: str
    detail: str
    start_seconds: float = 0.0
    pid: int | None = None
    """The server process when it runs locally (Kafka only; PostgreSQL is run by pg_ctl)."""
    data_dir: str | None = None
    reason: str = ""
    """Why this path was chosen (e.g. "no Docker engine reachable (...)")."""
    port_note: str = ""
    """Which port a local server got and why (e.g. "broker on free port 40123: 9092 is in use")."""

    def describe(self) -> str:
        """One line for logs and test output."""
        took = f", started in {self.start_seconds:.1f}s" if self.path != "env" else ""
        why = f" [{self.reason}]" if self.reason else ""
        port = f" ({self.port_note})" if self.port_note else ""
        return f"{self.kind}: {self.path} path{why}, {self.detail} at {self.address}{port}{took}"


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
    kind: Kind,
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


_ENV_VARIABLE: dict[Kind, str] = {"kafka": KAFKA_ENV, "postgres": DATABASE_ENV}
_NOUN: dict[Kind, str] = {"kafka": "broker", "postgres": "database"}
CONVENTIONAL_PORTS: dict[Kind, int] = {"kafka": 9092, "postgres": 5432}
"""Where developers' tools look first (kcat, kafka-consumer-groups, psql, settings defaults)."""


def _start_docker(kind: Kind) -> tuple[str, str, _Stoppable]:
    """Start `kind` in a container: (address, detail, the container)."""
    from touchpoint_devtools.devservers.docker import DockerKafka, DockerPostgres

    container = DockerKafka() if kind == "kafka" else DockerPostgres()
    return container.start(), f"container {container.image}", container


def _start_local(
    kind: Kind, workdir: Path | None, port: int | None
) -> tuple[str, LocalKafka | LocalPostgres]:
    """Start `kind` from local binaries in workdir/<kind> (port None: a free one): its address."""
    folder = workdir / kind if workdir else None
    server = LocalKafka(folder, port) if kind == "kafka" else LocalPostgres(folder, port)
    try:
        address = server.start()
    except BaseException:
        server.close()
        raise
    return address, server


def _start(
    kind: Kind, path: Path_, workdir: Path | None, *, conventional_port: bool
) -> tuple[ServerInfo, _Stoppable | None]:
    """Start (or adopt) one server on the chosen path."""
    if path == "env":
        variable = _ENV_VARIABLE[kind]
        detail = f"existing {_NOUN[kind]} from {variable}"
        return ServerInfo(kind, "env", os.environ[variable], detail), None
    started = time.monotonic()
    if path == "docker":
        address, detail, container = _start_docker(kind)
        return ServerInfo(kind, "docker", address, detail, time.monotonic() - started), container
    port, port_note = None, ""
    if conventional_port:
        port, port_note = prefer_port(CONVENTIONAL_PORTS[kind], what=_NOUN[kind])
    address, server = _start_local(kind, workdir, port)
    info = ServerInfo(kind, "local", address, server.detail, time.monotonic() - started)
    info.port_note = port_note
    if isinstance(server, LocalKafka):
        info.pid = server.pid
    else:
        info.data_dir = str(server.datadir)
    return info, _Closing(server)


@dataclass
class _Closing:
    server: LocalKafka | LocalPostgres

    def stop(self) -> None:
        self.server.close()


def start_servers(workdir: Path | None = None, *, conventional_ports: bool = False) -> DevServers:
    """Start (or adopt from the environment) a broker and a database; log the path of each.

    conventional_ports: local servers listen on 9092 and 5432 when free (`make run`); tests
    and `up` leave it off and get free random ports, so they never collide.
    """
    stoppers: list[Callable[[], None]] = []
    infos: dict[Kind, ServerInfo] = {}
    try:
        for kind in ("kafka", "postgres"):
            path, why = choose_path(kind)
            logger.info("%s: using the %s path (%s)", kind, path, why)
            info, server = _start(kind, path, workdir, conventional_port=conventional_ports)
            info.reason = why
            infos[kind] = info
            if server is not None:
                stoppers.append(server.stop)
    except BaseException:
        for stop in reversed(stoppers):
            stop()
        raise
    servers = DevServers(kafka=infos["kafka"], postgres=infos["postgres"], _stoppers=stoppers)
    logger.info("dev servers ready:\n%s", servers.describe())
    return servers
