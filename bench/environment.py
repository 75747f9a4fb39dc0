"""Everything the bench needs, started from nothing like the tests do, on 127.0.0.1 only.

Servers come from `start_servers()` (TOUCHPOINT_KAFKA_BOOTSTRAP / TOUCHPOINT_DATABASE_URL
select running ones); the bench always creates its own database and topics on them and drops
the database at the end. Services run as real uvicorn processes on free ports.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from touchpoint_common.access.cli import API_KEY_ENV, create_key_at
from touchpoint_common.access.models import ALL_SCOPES, KeyIn
from touchpoint_common.kafka.admin import create_topics
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers import DevServers, start_servers
from touchpoint_devtools.devservers.databases import create_migrated_database, drop_database

HOST = "127.0.0.1"
SERVICE_MODULES = {
    "ingest": "touchpoint_ingest.main:app",
    "profile": "touchpoint_profile.main:app",
    "recommend": "touchpoint_recommend.main:app",
}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Service:
    """One service as a uvicorn process; `url` is where it answers."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        """Base URL of the service."""
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down cleanly), then SIGKILL if it hangs."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class BenchEnvironment:
    """Servers, a fresh database, unique topics, and the services started on them."""

    settings: CommonSettings
    servers: DevServers
    workdir: Path
    run_id: str
    services: dict[str, Service] = field(default_factory=dict)

    def service_env(self, name: str, extra: dict[str, str]) -> dict[str, str]:
        """TOUCHPOINT_* variables pointing a service at the bench's servers and topics."""
        env = dict(os.environ)
        env.update(
            {
                "TOUCHPOINT_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap,
                "TOUCHPOINT_DATABASE_URL": self.settings.database_url,
                "TOUCHPOINT_TOPIC_INTERACTIONS": self.settings.topic_interactions,
                "TOUCHPOINT_TOPIC_DEAD_LETTER": self.settings.topic_dead_letter,
                "TOUCHPOINT_TOPIC_PARTITIONS": str(self.settings.topic_partitions),
                "TOUCHPOINT_SERVICE_NAME": name,
                "TOUCHPOINT_LOG_LEVEL": "WARNING",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        env.update(extra)
        return env

    async def start_service(
        self,
        name: str,
        extra: dict[str, str] | None = None,
        *,
        workers: int = 1,
        label: str | None = None,
    ) -> Service:
        """Start `uvicorn <module> --port <free>` (`workers` processes) and wait for /readyz;
        `label` tells a second instance of a service apart (its log, env.services key)."""
        port = free_port()
        label = label or name
        log_path = self.workdir / f"{label}.log"
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            SERVICE_MODULES[name],
            "--host",
            HOST,
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            *(["--workers", str(workers)] if workers > 1 else []),
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: ASYNC220 (returns at once)
                command,
                env=self.service_env(name, extra or {}),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        service = Service(name, port, process, log_path)
        self.services[label] = service
        await wait_ready(service)
        return service

    def stop_service(self, label: str) -> None:
        """Stop one service process this environment started."""
        self.services.pop(label).stop()

    def stop_services(self) -> None:
        """Stop every service process this environment started."""
        for service in reversed(list(self.services.values())):
            service.stop()
        self.services.clear()


async def wait_ready(service: Service, timeout_s: float = 90.0) -> None:
    """Poll /readyz until 200; fail with the service's log tail if it dies or never gets ready."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=service.url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                break
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    tail = service.log_path.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"{service.name} did not become ready on {service.url}:\n{tail}")


async def _create_bench_key(database_url: str) -> None:
    """A key with every scope for the bench clients, in TOUCHPOINT_API_KEY."""
    created = await create_key_at(database_url, KeyIn(name="bench", scopes=sorted(ALL_SCOPES)))
    os.environ[API_KEY_ENV] = created.token


def api_headers() -> dict[str, str]:
    """The Authorization header of the bench key (empty before the environment made one)."""
    token = os.environ.get(API_KEY_ENV)
    return {"Authorization": f"Bearer {token}"} if token else {}


@asynccontextmanager
async def bench_environment(workdir: Path, partitions: int) -> AsyncIterator[BenchEnvironment]:
    """Servers up, a migrated database `touchpoint_bench_<id>`, topics; all torn down after."""
    run_id = uuid.uuid4().hex[:8]
    servers = await asyncio.to_thread(start_servers)
    name = f"touchpoint_bench_{run_id}"
    try:
        url = await create_migrated_database(servers.database_url, name)
        try:
            settings = CommonSettings(
                kafka_bootstrap=servers.kafka_bootstrap,
                database_url=url,
                topic_interactions=f"touchpoint.interactions.v1.bench-{run_id}",
                topic_dead_letter=f"touchpoint.interactions.dlq.v1.bench-{run_id}",
                topic_partitions=partitions,
                log_json=False,
            )
            await create_topics(settings)
            await _create_bench_key(url)
            environment = BenchEnvironment(settings, servers, workdir, run_id)
            try:
                yield environment
            finally:
                environment.stop_services()
        finally:
            await drop_database(servers.database_url, name)
    finally:
        await asyncio.to_thread(servers.stop)
