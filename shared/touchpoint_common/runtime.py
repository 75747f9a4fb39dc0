"""What a running service holds: engine, session factory, producer; started and stopped once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import QueuePool

from touchpoint_common.db.engine import autocommit, create_engine, create_session_factory
from touchpoint_common.db.migrate import MIGRATIONS_DIR, run_migrations
from touchpoint_common.kafka.admin import create_admin, create_topics
from touchpoint_common.kafka.configuration import CLOSE_BUDGET_S
from touchpoint_common.kafka.producer import create_producer, start_producer
from touchpoint_common.kafka.publisher import Publisher, watch_producer
from touchpoint_common.observability.health import ReadinessCheck
from touchpoint_common.observability.metrics import DB_POOL_CHECKED_OUT, DB_POOL_SIZE
from touchpoint_common.settings import CommonSettings
from touchpoint_common.tasks import close_together, stop_task

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
    read_sessions: async_sessionmaker[AsyncSession] = field(init=False)
    """Sessions in autocommit, for reads that need no transaction (and single-statement
    writes): no BEGIN and no ROLLBACK round trip around each request's statements."""
    producer: AIOKafkaProducer | None = field(init=False, default=None)
    schema_head: str | None = field(init=False, default=None)
    _admin: AIOKafkaAdminClient | None = field(init=False, default=None)
    _admin_lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    _publisher: Publisher | None = field(init=False, default=None)
    _producer_watch: asyncio.Task[None] | None = field(init=False, default=None)

    async def start(self) -> None:
        """Connect to the database, migrate, create topics, start the producer."""
        self.engine = create_engine(self.settings)
        self.sessions = create_session_factory(self.engine)
        self.read_sessions = create_session_factory(autocommit(self.engine))
        self.schema_head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
        self._watch_pool()
        if self.settings.uses_development_keys():
            logger.warning(
                "development PII keys in use: set TOUCHPOINT_PII_HMAC_KEY and TOUCHPOINT_PII_KEK "
                "(TOUCHPOINT_ENVIRONMENT=production refuses to start without them)"
            )
        if self.settings.run_migrations:
            await run_migrations(self.engine)
        await create_topics(self.settings)
        if self.with_producer:
            self.producer = create_producer(self.settings)
            await self.producer.start()
        logger.info("runtime started")

    def require_producer(self) -> AIOKafkaProducer:
        """The started producer; a RuntimeError names the misconfiguration when there is none."""
        if self.producer is None:
            raise RuntimeError("this runtime was started without a producer (with_producer=False)")
        return self.producer

    def get_publisher(self) -> Publisher:
        """The runtime's one publisher, watched: a producer whose sends stall is replaced."""
        if self._publisher is None:
            self._publisher = Publisher(self.require_producer())
            self._producer_watch = asyncio.get_running_loop().create_task(
                watch_producer(
                    self._publisher,
                    create=self._start_producer,
                    stall_s=self.settings.kafka_producer_stall_s,
                    on_replaced=self._use_producer,
                ),
                name="producer-watch",
            )
        return self._publisher

    async def _start_producer(self) -> AIOKafkaProducer:
        return await start_producer(self.settings)

    def _use_producer(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer

    async def stop(self) -> None:
        """Flush and close the producer and the readiness admin client, dispose of the pool."""
        if self._producer_watch is not None:
            await stop_task(self._producer_watch)
        # Every record a client was told about was acknowledged already; what a producer
        # still holds was never confirmed to anyone, so shutdown need not wait past the budget.
        closes = [
            *([self.producer.stop()] if self.producer is not None else []),
            *([self._admin.close()] if self._admin is not None else []),
        ]
        await close_together(closes, budget_s=CLOSE_BUDGET_S)
        self._admin = None
        await self.engine.dispose()

    def _watch_pool(self) -> None:
        """Export pool usage, read when /metrics is scraped (no timer, no I/O)."""
        pool = self.engine.pool
        if not isinstance(pool, QueuePool):
            return
        service = self.settings.service_name
        DB_POOL_CHECKED_OUT.labels(service).set_function(pool.checkedout)
        DB_POOL_SIZE.labels(service).set_function(pool.size)

    async def check_database(self) -> None:
        """Readiness: one query proves the database answers and the schema is at head."""
        try:
            async with self.engine.connect() as connection:
                result = await connection.execute(text("SELECT version_num FROM alembic_version"))
                versions: set[str] = set(result.scalars())
        except ProgrammingError as exc:  # no alembic_version table: never migrated
            raise SchemaNotCurrent("migrations have not run") from exc
        if self.schema_head not in versions:
            raise SchemaNotCurrent(f"schema at {sorted(versions)}, code needs {self.schema_head}")

    async def check_broker(self) -> None:
        """Readiness: the broker answers a metadata request on a reused admin connection."""
        async with self._admin_lock:  # concurrent probes share one client instead of leaking
            if self._admin is None:
                admin = create_admin(self.settings)
                try:
                    await admin.start()
                except BaseException:
                    with contextlib.suppress(Exception):
                        await admin.close()
                    raise
                self._admin = admin
            try:
                await self._admin.list_topics()
            except BaseException:
                admin, self._admin = self._admin, None
                with contextlib.suppress(Exception):
                    await admin.close()
                raise

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        """The checks /readyz runs."""
        return {"database": self.check_database, "kafka": self.check_broker}
