"""`make run`: broker, database and the three services in one supervised process tree.

The supervisor records what it started in .run/run.json so `make stop` (from another shell)
can stop it, and, should the supervisor itself have died, clean up after it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx
from sqlalchemy.engine import make_url

from touchpoint_common.access.cli import DEV_KEY_FILE, create_development_key
from touchpoint_devtools.devservers import (
    DATABASE_ENV,
    KAFKA_ENV,
    DevServers,
    choose_path,
    start_servers,
)
from touchpoint_devtools.devservers._common import is_port_open, terminate_group
from touchpoint_devtools.devservers.postgres import SYSTEM_USER, find_binaries

logger = logging.getLogger(__name__)

STATE_FILE = Path(".run") / "run.json"
COMPOSE_FILE = Path("deploy") / "docker-compose.yml"
READY_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Service:
    """One of the three services and where it listens."""

    name: str
    app: str
    port: int

    @property
    def url(self) -> str:
        """The service's base URL."""
        return f"http://127.0.0.1:{self.port}"


def get_services(ingest_port: int, profile_port: int, recommend_port: int) -> list[Service]:
    """The three services with their uvicorn app paths."""
    return [
        Service("ingest", "touchpoint_ingest.main:app", ingest_port),
        Service("profile", "touchpoint_profile.main:app", profile_port),
        Service("recommend", "touchpoint_recommend.main:app", recommend_port),
    ]


CORS_ENV = "TOUCHPOINT_CORS_ALLOWED_ORIGINS"


def console_origins(services: list[Service]) -> str:
    """The agent console's origins (the profile's, by IP and by name) as the CORS setting."""
    port = next(service.port for service in services if service.name == "profile")
    return json.dumps([f"http://127.0.0.1:{port}", f"http://localhost:{port}"])


def _say(message: str) -> None:
    print(f"[make run] {message}", flush=True)


def _write_state(state: dict[str, object]) -> None:
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    staging = STATE_FILE.with_suffix(".tmp")
    staging.write_text(json.dumps(state, indent=2))
    staging.replace(STATE_FILE)


def _wait_ready(
    services: list[Service],
    processes: dict[str, subprocess.Popen[bytes]],
    timeout: float = READY_TIMEOUT_SECONDS,
) -> None:
    deadline = time.monotonic() + timeout
    pending = {service.name: service for service in services}
    with httpx.Client(timeout=3.0) as client:
        while pending:
            for name, service in list(pending.items()):
                process = processes.get(name)
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode} while starting")
                try:
                    if client.get(f"{service.url}/readyz").status_code == 200:
                        _say(f"{name} ready at {service.url}")
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise RuntimeError(
                    f"not ready after {READY_TIMEOUT_SECONDS:.0f}s: {sorted(pending)}"
                )
            time.sleep(0.5)


@dataclass(frozen=True)
class Servers:
    """Where the broker and the database of a run are, and any note on their ports."""

    kafka_bootstrap: str
    database_url: str
    notes: tuple[str, ...] = ()


def describe_servers(servers: Servers) -> list[str]:
    """Lines naming the broker and database so kcat, kafka-consumer-groups and psql work."""
    bootstrap = servers.kafka_bootstrap
    libpq = make_url(servers.database_url).set(drivername="postgresql")
    return [
        f"  {'kafka':<9} {bootstrap}  (kcat -b {bootstrap} -L; "
        f"kafka-consumer-groups --bootstrap-server {bootstrap} --describe --all-groups)",
        f"  {'postgres':<9} {libpq.render_as_string(hide_password=False)}  "
        f"(psql with this URL; the services use {DATABASE_ENV}={servers.database_url})",
        *(f"  note: {note}" for note in servers.notes),
    ]


def _compose_servers() -> Servers:
    """The host-side addresses deploy/docker-compose.yml publishes."""
    return Servers(
        "localhost:29092",
        "postgresql+asyncpg://touchpoint:touchpoint@127.0.0.1:5432/touchpoint",
        ("docker compose publishes Kafka's HOST listener on 29092",),
    )


def announce_development_key(database_url: str) -> None:
    """Create a key with every scope, write it to .touchpoint/api-key and print it."""
    try:
        created = create_development_key(database_url, DEV_KEY_FILE)
    except Exception as exc:
        _say(f"could not create the development API key: {exc}")
        return
    _say(f"development API key (every scope, id {created.key_id}) written to {DEV_KEY_FILE}:")
    _say(f"  {created.token}")
    _say(
        f'  curl -H "Authorization: Bearer $(cat {DEV_KEY_FILE})" '
        "'http://127.0.0.1:8002/v1/customers/lookup?loyalty_id=L-1'"
    )


def _print_urls(services: list[Service], servers: Servers) -> None:
    _say("everything is up:")
    for service in services:
        _say(
            f"  {service.name:<9} {service.url}  (docs {service.url}/docs, "
            f"ready {service.url}/readyz, metrics {service.url}/metrics)"
        )
    for line in describe_servers(servers):
        _say(line)
    _say("Ctrl-C here, or `make stop` from another shell, stops all of it")


class _StopFlag:
    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.event.set()


def run(*, ingest_port: int, profile_port: int, recommend_port: int) -> int:
    """Bring everything up, print the URLs, block until a signal, then stop everything."""
    if STATE_FILE.exists():
        previous = json.loads(STATE_FILE.read_text())
        if _alive(int(previous.get("supervisor", 0))):
            _say(f"already running (pid {previous['supervisor']}); `make stop` first")
            return 1
        stop_recorded(previous)
    stop = _StopFlag()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    services = get_services(ingest_port, profile_port, recommend_port)
    busy = [f"{s.name}:{s.port}" for s in services if is_port_open(s.port)]
    if busy:
        _say(f"ports already in use: {', '.join(busy)}; stop whatever holds them")
        return 1
    overridden = bool(os.environ.get(KAFKA_ENV) or os.environ.get(DATABASE_ENV))
    if not overridden and choose_path("kafka")[0] == "docker":
        return _run_compose(stop)
    return _run_local(services, stop)


def _run_compose(stop: _StopFlag) -> int:
    """With a Docker engine: deploy/docker-compose.yml runs servers and services."""
    _say(f"Docker engine reachable: docker compose -f {COMPOSE_FILE} up")
    command = ["docker", "compose", "-f", str(COMPOSE_FILE)]
    process = subprocess.Popen([*command, "up", "--build"], start_new_session=True)
    _write_state({"supervisor": os.getpid(), "compose": str(COMPOSE_FILE)})
    services = get_services(8001, 8002, 8003)

    def announce() -> None:
        try:
            _wait_ready(services, {}, timeout=900)  # the first run builds the images
            _print_urls(services, _compose_servers())
            announce_development_key(_compose_servers().database_url)
        except RuntimeError as exc:
            _say(str(exc))

    threading.Thread(target=announce, daemon=True).start()
    try:
        while not stop.event.wait(1.0):
            if process.poll() is not None:
                return process.returncode or 1
    finally:
        subprocess.run([*command, "down"], check=False)
        terminate_group(process, grace_seconds=30)
        STATE_FILE.unlink(missing_ok=True)
    return 0


def _run_local(services: list[Service], stop: _StopFlag) -> int:
    """Without Docker: dev servers (env override or local binaries) plus uvicorn per service."""
    workdir = Path(tempfile.mkdtemp(prefix="touchpoint-run-"))
    state: dict[str, object] = {"supervisor": os.getpid(), "workdir": str(workdir)}
    _write_state(state)
    servers: DevServers | None = None
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        servers = start_servers(workdir=workdir, conventional_ports=True)
        for line in servers.describe().splitlines():
            _say(line)
        state["kafka_pid"] = servers.kafka.pid
        state["postgres_datadir"] = servers.postgres.data_dir
        _write_state(state)
        env = {
            **os.environ,
            KAFKA_ENV: servers.kafka_bootstrap,
            DATABASE_ENV: servers.database_url,
        }
        # Ingest and recommend answer the console's browser calls (set the variable to override).
        env.setdefault(CORS_ENV, console_origins(services))
        for service in services:
            processes[service.name] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    service.app,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(service.port),
                    "--no-access-log",
                ],
                env={**env, "TOUCHPOINT_SERVICE_NAME": service.name},
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        state["services"] = {name: process.pid for name, process in processes.items()}
        _write_state(state)
        _wait_ready(services, processes)
        notes = tuple(
            info.port_note for info in (servers.kafka, servers.postgres) if info.port_note
        )
        _print_urls(services, Servers(servers.kafka_bootstrap, servers.database_url, notes))
        announce_development_key(servers.database_url)
        while not stop.event.wait(1.0):
            exited = [name for name, p in processes.items() if p.poll() is not None]
            if exited:
                _say(f"{', '.join(exited)} exited; stopping everything")
                return 1
        return 0
    except Exception as exc:
        _say(f"failed: {exc}")
        return 1
    finally:
        _say("stopping services")
        for process in processes.values():
            terminate_group(process, grace_seconds=15)
        if servers is not None:
            _say("stopping broker and database")
            servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        STATE_FILE.unlink(missing_ok=True)
        _say("stopped")


def _alive(pid: int) -> bool:
    """True while the process runs; a zombie (exited, not yet reaped) counts as gone."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def request_stop(timeout: float = 90.0) -> int:
    """`make stop`: SIGTERM the supervisor and wait; clean up after it if it is gone."""
    if not STATE_FILE.exists():
        _say("nothing is running (no .run/run.json)")
        return 0
    state = json.loads(STATE_FILE.read_text())
    supervisor = int(state.get("supervisor", 0))
    if _alive(supervisor):
        _say(f"stopping supervisor {supervisor}")
        os.kill(supervisor, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(supervisor) and time.monotonic() < deadline:
            time.sleep(0.3)
    if STATE_FILE.exists():
        stop_recorded(json.loads(STATE_FILE.read_text()))
    _say("stopped")
    return 0


def stop_recorded(state: dict[str, object]) -> None:
    """Stop whatever a dead supervisor left behind, as recorded in its state file."""
    services = state.get("services")
    pids = [int(pid) for pid in services.values()] if isinstance(services, dict) else []
    kafka_pid = state.get("kafka_pid")
    if isinstance(kafka_pid, int):
        pids.append(kafka_pid)
    for pid in pids:
        if _alive(pid):
            _say(f"terminating leftover process group {pid}")
            _kill_group(pid)
    datadir = state.get("postgres_datadir")
    binaries = find_binaries()
    if isinstance(datadir, str) and Path(datadir).is_dir() and binaries is not None:
        subprocess.run(
            [binaries["pg_ctl"], "-D", datadir, "-m", "fast", "-w", "stop"],
            capture_output=True,
            check=False,
            user=SYSTEM_USER if os.geteuid() == 0 else None,
        )
    if "compose" in state:
        subprocess.run(["docker", "compose", "-f", str(state["compose"]), "down"], check=False)
    workdir = state.get("workdir")
    if isinstance(workdir, str):
        shutil.rmtree(workdir, ignore_errors=True)
    STATE_FILE.unlink(missing_ok=True)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 20
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
