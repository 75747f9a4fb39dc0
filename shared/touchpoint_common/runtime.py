"""What a running service holds: engine, session factory, producer; started and stopped once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from touchpoint_common.db.engine import check_database, create_engine, create_session_factory
from touchpoint_common.db.migrate import check_migrations, run_migrations
from touchpoint_common.kafka.admin import check_broker, create_topics
from touchpoint_common.kafka.producer import create_producer
from touchpoint_common.observability.health import ReadinessCheck
from touchpoint_common.settings import CommonSettings

logger = logging.getLogger(__name__)


class SchemaNotCurrent(RuntimeError):
    """The database schema is behind the code's newest migration."""


@dataclass
class Runtime:
    """Shared resources of one service process."""

    settings: CommonSettings
    with_producer: bool = True
    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    producer: AIOKafkaProducer | None = field(init=False, default=None)

    async def start(self) -> None:
        """Connect to the database, migrate, create topics, start the producer."""
        self.engine = create_engine(self.settings)
        self.sessions = create_session_factory(self.engine)
        if self.settings.run_migrations:
            await run_migrations(self.engine)
        await create_topics(self.settings)
        if self.with_producer:
            self.producer = create_producer(self.settings)
            await self.producer.start()
        logger.info("runtime started")

    async def stop(self) -> None:
        """Flush and close the producer, dispose of the pool."""
        if self.producer is not None:
            await self.producer.stop()
        await self.engine.dispose()

    async def check_database(self) -> None:
        """Readiness: the database answers and the schema is current."""
        await check_database(self.engine)
        if not await check_migrations(self.engine):
            raise SchemaNotCurrent("migrations have not run")

    async def check_broker(self) -> None:
        """Readiness: the broker answers a metadata request."""
        await check_broker(self.settings)

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        """The checks /readyz runs."""
        return {"database": self.check_database, "kafka": self.check_broker}
