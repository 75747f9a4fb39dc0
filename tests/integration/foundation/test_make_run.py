"""`make run` / `make stop`: the supervisor brings the three services up and leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import report
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers._common import get_free_port, is_port_open
from touchpoint_devtools.devservers.run import _alive

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "touchpoint_devtools.devservers"]


def alive(pid: int) -> bool:
    return _alive(pid)


Supervisor = tuple[subprocess.Popen[str], dict[str, int], Path, list[str]]


@pytest.fixture
def supervisor(settings: CommonSettings, tmp_path: Path) -> Iterator[Supervisor]:
    """`make run`'s command on free ports against the session's servers and topics; yields
    the process, the service ports, its folder and what it printed up to "stops all of it"."""
    ports = {name: get_free_port() for name in ("ingest", "profile", "recommend")}
    env = {
        **os.environ,
        "TOUCHPOINT_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "TOUCHPOINT_DATABASE_URL": settings.database_url,
        "TOUCHPOINT_TOPIC_INTERACTIONS": settings.topic_interactions,
        "TOUCHPOINT_TOPIC_DEAD_LETTER": settings.topic_dead_letter,
        "INGEST_PORT": str(ports["ingest"]),
        "PROFILE_PORT": str(ports["profile"]),
        "RECOMMEND_PORT": str(ports["recommend"]),
    }
    process = subprocess.Popen(
        [*CLI, "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        lines = []
        stdout = process.stdout
        assert stdout is not None
        deadline = time.monotonic() + 150
        for line in stdout:
            lines.append(line)
            if "stops all of it" in line:
                break
            assert time.monotonic() < deadline, "".join(lines[-30:])
        else:
            pytest.fail("supervisor ended before the services were up:\n" + "".join(lines[-40:]))
        # Keep reading so the services never block on a full pipe.
        threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()
        yield process, ports, tmp_path, lines
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        subprocess.run([*CLI, "stop"], cwd=tmp_path, capture_output=True, check=False)
        process.wait(timeout=30)


def check_all_ready(ports: dict[str, int]) -> None:
    for name, port in ports.items():
        response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
        assert response.status_code == 200, (name, response.text)


def test_run_then_stop_leaves_nothing(supervisor: Supervisor) -> None:
    """All three services answer /readyz 200; `stop` from another process ends the
    supervisor and every service process, and frees the ports and the state file."""
    process, ports, workdir, _ = supervisor
    check_all_ready(ports)
    state = json.loads((workdir / ".run" / "run.json").read_text())
    service_pids = list(state["services"].values())

    result = subprocess.run([*CLI, "stop"], cwd=workdir, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert process.wait(timeout=60) == 0
    assert not any(alive(pid) for pid in service_pids)
    assert not any(is_port_open(port) for port in ports.values())
    assert not (workdir / ".run" / "run.json").exists()
    report(f"make run: 3 services ready on {sorted(ports.values())}; make stop left nothing")


def test_run_prints_the_broker_and_database_with_the_services(
    supervisor: Supervisor, settings: CommonSettings
) -> None:
    """Next to the service URLs, `make run` prints the broker's bootstrap address (ready for
    kcat and kafka-consumer-groups) and the database as a psql URL, and they are the
    servers the services use."""
    _, ports, _, lines = supervisor
    block = "".join(lines[next(i for i, line in enumerate(lines) if "everything is up" in line) :])
    for port in ports.values():
        assert f"http://127.0.0.1:{port}" in block
    bootstrap = settings.kafka_bootstrap
    assert f"kafka     {bootstrap}  (kcat -b {bootstrap} -L;" in block
    assert f"kafka-consumer-groups --bootstrap-server {bootstrap}" in block
    database = make_url(settings.database_url)
    libpq = database.set(drivername="postgresql").render_as_string(hide_password=False)
    assert f"postgres  {libpq}  (psql" in block
    report(f"make run prints kafka {bootstrap} and postgres {database.host}:{database.port}")


def test_stop_cleans_up_after_a_killed_supervisor(supervisor: Supervisor) -> None:
    """If the supervisor dies without cleaning up, `stop` still ends the services it
    recorded in .run/run.json."""
    process, ports, workdir, _ = supervisor
    state = json.loads((workdir / ".run" / "run.json").read_text())
    service_pids = list(state["services"].values())
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert all(alive(pid) for pid in service_pids)

    result = subprocess.run([*CLI, "stop"], cwd=workdir, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not any(alive(pid) for pid in service_pids)
    assert not any(is_port_open(port) for port in ports.values())
