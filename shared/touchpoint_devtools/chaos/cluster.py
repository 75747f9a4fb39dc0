"""A private Touchpoint for a chaos run: its own broker, database and the three services.

Never the shared servers from TOUCHPOINT_KAFKA_BOOTSTRAP / TOUCHPOINT_DATABASE_URL: a chaos run
restarts and stops them. Services run as uvicorn subprocesses as `make run` starts them; the
profile fold runs inside the profile process and the learner inside the recommend process, so
killing those processes kills the consumers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from touchpoint_devtools.devservers import DATABASE_ENV, KAFKA_ENV, LocalKafka, LocalPostgres
from touchpoint_devtools.devservers._common import get_free_port, terminate_group
from touchpoint_devtools.devservers.run import Service, get_services

READY_TIMEOUT_S = 180.0


@dataclass
class ServiceProcess:
    """One service's uvicorn process, restarted in place like a pod."""

    service: Service
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    unplanned_exits: list[int] = field(default_factory=list)
    """Exit codes of the times the process died without being killed by the harness."""

    def start(self) -> None:
        """Start uvicorn on the service's port; output appended to the log file."""
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            self.service.app,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.service.port),
            "--no-access-log",
        ]
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start {self.starts + 1} at {time.time():.3f} ===\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.starts += 1

    def kill9(self) -> None:
        """SIGKILL the process group (no shutdown hooks run) and reap it."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def restart_if_exited(self) -> bool:
        """Start again a process that died by itself (the orchestrator's restart policy)."""
        if self.process is not None and self.process.poll() is not None:
            self.unplanned_exits.append(self.process.returncode)
            self.start()
            return True
        return False

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period."""
        if self.process is not None:
            terminate_group(self.process, grace_seconds=15)


@dataclass
class Cluster:
    """Broker, database and services of one chaos run, all under `workdir`."""

    workdir: Path
    kafka: LocalKafka = field(init=False)
    postgres: LocalPostgres = field(init=False)
    services: dict[str, ServiceProcess] = field(init=False, default_factory=dict)
    database_url: str = field(init=False, default="")
    headers: dict[str, str] = field(init=False, default_factory=dict)
    """Authorization with a key holding every scope (made once the schema exists)."""
    stopping: bool = field(init=False, default=False)
    """Set by stop(): the supervisor restarts nothing from then on."""
    lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    """Held while a service is killed and restarted, so the supervisor never sees it dead."""

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.kafka = LocalKafka(self.workdir / "kafka")
        self.postgres = LocalPostgres(self.workdir / "postgres")

    def url(self, name: str) -> str:
        """Base URL of a service."""
        return self.services[name].service.url

    def start(self) -> None:
        """Start broker and database, then the three services; wait until all are ready."""
        bootstrap = self.kafka.start()
        database_url = self.database_url = self.postgres.start()
        env = {
            **os.environ,
            KAFKA_ENV: bootstrap,
            DATABASE_ENV: database_url,
            "TOUCHPOINT_OPS_LAG_INTERVAL_S": "5",
            # The whole history in the timeline, so a mismatch can be traced to event ids.
            "TOUCHPOINT_PROFILE_RULES__TIMELINE_SIZE": "500",
        }
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        ports = [get_free_port() for _ in range(3)]
        for service in get_services(*ports):
            self.services[service.name] = ServiceProcess(
                service=service,
                env={**env, "TOUCHPOINT_SERVICE_NAME": service.name},
                log_path=logs / f"{service.name}.log",
            )
        # The first start runs the migrations: one service first, so they never race.
        self.services["ingest"].start()
        self.wait_ready(["ingest"], timeout=READY_TIMEOUT_S)
        for name in ("profile", "recommend"):
            self.services[name].start()
        self.wait_ready(list(self.services), timeout=READY_TIMEOUT_S)

    def ready(self, names: list[str]) -> dict[str, bool]:
        """readyz of each named service (False when it does not answer 200)."""
        answers: dict[str, bool] = {}
        with httpx.Client(timeout=3.0) as client:
            for name in names:
                try:
                    answers[name] = client.get(f"{self.url(name)}/readyz").status_code == 200
                except httpx.HTTPError:
                    answers[name] = False
        return answers

    def wait_ready(self, names: list[str], *, timeout: float) -> float:
        """Seconds until every named service answers readyz 200 (restarting dead ones)."""
        started = time.monotonic()
        while True:
            self.supervise()
            if all(self.ready(names).values()):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"not ready after {timeout:.0f}s: {self.ready(names)}")
            time.sleep(0.25)

    def supervise(self) -> list[str]:
        """Restart any service that exited by itself; the names restarted."""
        with self.lock:
            if self.stopping:
                return []
            return [name for name, proc in self.services.items() if proc.restart_if_exited()]

    def stop(self) -> None:
        """Stop the services, then the broker and database, and delete nothing."""
        with self.lock:
            self.stopping = True
        for process in self.services.values():
            process.stop()
        self.kafka.stop()
        self.postgres.stop()

    def close(self) -> None:
        """Stop everything."""
        self.stop()
