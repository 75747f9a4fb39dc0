"""deploy/docker-compose.yml and deploy/Dockerfile: valid, complete and pointing at real files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, ROOT

COMPOSE_FILE = DEPLOY / "docker-compose.yml"
APP_SERVICES = {"ingest": 8001, "profile": 8002, "recommend": 8003}


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy is not None else None


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def test_compose_config_accepts_the_file() -> None:
    """The compose client itself parses and resolves the file (`docker compose config`)."""
    command = _compose_command()
    if command is None:
        pytest.skip("no docker compose plugin or docker-compose client on this machine")
    result = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_runs_the_whole_system(compose: dict[str, Any]) -> None:
    """Kafka 4 (KRaft), PostgreSQL 16, the three services, Prometheus and Grafana are there."""
    services = compose["services"]
    assert set(services) >= {"kafka", "postgres", "prometheus", "grafana", *APP_SERVICES}
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert services["postgres"]["image"].startswith("postgres:16")


@pytest.mark.parametrize(("name", "port"), sorted(APP_SERVICES.items()))
def test_compose_services_build_from_the_dockerfile_and_reach_their_dependencies(
    compose: dict[str, Any], name: str, port: int
) -> None:
    """Each service builds from deploy/Dockerfile, listens on its port, waits for healthy
    Kafka and PostgreSQL, and is configured with their compose addresses."""
    service = compose["services"][name]
    build = service["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert build["args"]["SERVICE"] == name
    assert int(build["args"]["PORT"]) == port
    assert f"{port}:{port}" in service["ports"]
    assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    environment = service["environment"]
    assert environment["TOUCHPOINT_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert "@postgres:5432/" in environment["TOUCHPOINT_DATABASE_URL"]
    assert environment["TOUCHPOINT_SERVICE_NAME"] == name
    assert "healthcheck" in compose["services"]["kafka"]
    assert "healthcheck" in compose["services"]["postgres"]


def test_compose_mounts_existing_files(compose: dict[str, Any]) -> None:
    """Every bind mount (./...) names a file or folder that exists in deploy/."""
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} is missing"
    named = {v.split(":", 1)[0] for s in compose["services"].values() for v in s.get("volumes", [])}
    assert {v for v in named if not v.startswith(".")} <= set(compose["volumes"])


def test_compose_publishes_each_host_port_once(compose: dict[str, Any]) -> None:
    """No two services claim the same host port."""
    published = [
        str(port).split(":", 1)[0]
        for service in compose["services"].values()
        for port in service.get("ports", [])
    ]
    assert len(published) == len(set(published)), published


def test_dockerfile_copies_what_exists_and_runs_unprivileged() -> None:
    """The image copies only paths that exist, runs as a non-root user and starts uvicorn."""
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    copies = [
        line.split()[1:-1] for line in lines if line.startswith("COPY ") and "--from" not in line
    ]
    assert copies
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    assert any(line.startswith("FROM python:3.11") for line in lines)
    assert any(line.startswith("USER ") and "root" not in line for line in lines)
    assert any(line.startswith("CMD ") and "uvicorn" in line for line in lines)
    assert any(line.startswith("HEALTHCHECK") for line in lines)


def test_dockerfile_service_module_exists() -> None:
    """touchpoint_<SERVICE>.main, which the image runs, exists for every compose service."""
    for name in APP_SERVICES:
        assert Path(ROOT / "services" / name / f"touchpoint_{name}" / "main.py").is_file()
