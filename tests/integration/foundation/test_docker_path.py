"""The Docker path: Kafka (KRaft) and PostgreSQL containers via testcontainers."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from touchpoint_common.kafka.admin import check_broker
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers.docker import (
    DockerKafka,
    DockerPostgres,
    docker_engine_reachable,
)

pytestmark = pytest.mark.integration

REACHABLE, WHY = docker_engine_reachable()


@pytest.mark.skipif(not REACHABLE, reason=f"Docker path not tested here: {WHY}")
async def test_containers_answer() -> None:
    """The Kafka container answers metadata and the PostgreSQL container answers SELECT 1."""
    kafka, postgres = DockerKafka(), DockerPostgres()
    try:
        bootstrap = kafka.start()
        await check_broker(CommonSettings(kafka_bootstrap=bootstrap))
        engine = create_async_engine(postgres.start())
        try:
            async with engine.connect() as connection:
                assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
        finally:
            await engine.dispose()
    finally:
        kafka.stop()
        postgres.stop()
