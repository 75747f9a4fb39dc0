"""The Docker path: Kafka (KRaft) and PostgreSQL in containers via testcontainers.

Used when a Docker engine answers a ping; the docker CLI alone is not enough.
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)

KAFKA_IMAGE = os.environ.get("TOUCHPOINT_DEVSERVERS_KAFKA_IMAGE", "confluentinc/cp-kafka:8.0.0")
POSTGRES_IMAGE = os.environ.get("TOUCHPOINT_DEVSERVERS_POSTGRES_IMAGE", "postgres:16-alpine")


def docker_engine_reachable() -> tuple[bool, str]:
    """(True, engine version) when a Docker engine answers a ping, else (False, why not)."""
    try:
        import docker  # type: ignore[import-untyped]
    except ImportError:
        return False, "the docker Python client is not installed (pip install testcontainers)"
    try:
        client = docker.from_env(timeout=3)
        try:
            client.ping()
            version = str(client.version().get("Version", "?"))
        finally:
            client.close()
    except Exception as exc:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        return False, f"no Docker engine reachable at {where}: {_first_line(exc)}"
    return True, version


class DockerKafka:
    """Apache Kafka 4 (Confluent Platform 8 image) in KRaft mode, one container."""

    def __init__(self, image: str = KAFKA_IMAGE) -> None:
        self.image = image
        self._container: Any = None

    def start(self) -> str:
        """Start the container; return its bootstrap address."""
        from testcontainers.kafka import KafkaContainer

        self._container = KafkaContainer(self.image).with_kraft()
        self._container.start(timeout=120)
        bootstrap: str = self._container.get_bootstrap_server()
        logger.info("Kafka container %s ready at %s", self.image, bootstrap)
        return bootstrap

    def stop(self) -> None:
        """Stop and remove the container."""
        if self._container is not None:
            self._container.stop()
            self._container = None


class DockerPostgres:
    """PostgreSQL in a container with role and database `touchpoint`."""

    def __init__(self, image: str = POSTGRES_IMAGE) -> None:
        self.image = image
        self._container: Any = None

    def start(self) -> str:
        """Start the container; return a SQLAlchemy asyncpg URL."""
        from testcontainers.postgres import PostgresContainer

        self._container = PostgresContainer(
            self.image,
            username="touchpoint",
            password="touchpoint",  # noqa: S106 - throwaway test container
            dbname="touchpoint",
            driver="asyncpg",
        )
        self._container.start()
        url: str = self._container.get_connection_url()
        logger.info("PostgreSQL container %s ready", self.image)
        return url

    def stop(self) -> None:
        """Stop and remove the container."""
        if self._container is not None:
            self._container.stop()
            self._container = None


def _first_line(exc: Exception) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(cause or exc).splitlines()[0] if str(cause or exc) else type(exc).__name__
    return text[:160]
