"""Contract of the one offsets store (PostgresOffsetStore) against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_common.db.migrate import _config, run_migrations
from touchpoint_common.settings import CommonSettings
from touchpoint_common.tracking.offsets import OffsetConflict, OffsetStore, PostgresOffsetStore
from touchpoint_devtools.devservers.databases import create_database, drop_database

pytestmark = pytest.mark.integration


def as_store(session: AsyncSession) -> OffsetStore:
    """The adapter seen through the interface (mypy checks it satisfies the Protocol)."""
    return PostgresOffsetStore(session)


async def test_offsets_are_compare_and_set(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Offsets move only from the value the writer expects; otherwise OffsetConflict."""
    group, topic = f"g-{uuid.uuid4().hex[:6]}", "t"
    async with sessions() as session, session.begin():
        await as_store(session).put_offsets(
            group=group, topic=topic, offsets={0: 5, 1: 3}, expected={}
        )
    async with sessions() as session, session.begin():
        store = as_store(session)
        assert await store.get_offsets(group=group, topic=topic) == {0: 5, 1: 3}
        await store.put_offsets(group=group, topic=topic, offsets={0: 9}, expected={0: 5})
    for expected in ({0: 5}, {}):
        async with sessions() as session:
            with pytest.raises(OffsetConflict):
                async with session.begin():
                    await as_store(session).put_offsets(
                        group=group, topic=topic, offsets={0: 12}, expected=expected
                    )
    async with sessions() as session:
        assert await as_store(session).get_offsets(group=group, topic=topic) == {0: 9, 1: 3}
        assert await as_store(session).get_offsets(group=f"{group}-other", topic=topic) == {}


async def test_two_writers_from_one_position_one_wins(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Two transactions moving the same partition from the same position: the second waits
    on the first's row lock and then fails, so a zombie can never commit a batch twice."""
    group, topic = f"g-{uuid.uuid4().hex[:6]}", "t"
    async with sessions() as session, session.begin():
        await as_store(session).put_offsets(group=group, topic=topic, offsets={0: 10}, expected={})
    first_moved = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with sessions() as session, session.begin():
            await as_store(session).put_offsets(
                group=group, topic=topic, offsets={0: 20}, expected={0: 10}
            )
            first_moved.set()
            await release_first.wait()

    async def second() -> None:
        await first_moved.wait()
        async with sessions() as session, session.begin():
            await as_store(session).put_offsets(
                group=group, topic=topic, offsets={0: 20}, expected={0: 10}
            )

    first_task = asyncio.create_task(first())
    second_task = asyncio.create_task(second())
    await first_moved.wait()
    await asyncio.sleep(0.3)
    assert not second_task.done(), "the second writer must wait for the first's commit"
    release_first.set()
    await first_task
    with pytest.raises(OffsetConflict):
        await second_task
    async with sessions() as session:
        assert await as_store(session).get_offsets(group=group, topic=topic) == {0: 20}


async def test_offsets_can_be_read_under_a_row_lock(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """for_update=True locks the group's rows until the reader's transaction ends."""
    group, topic = f"g-{uuid.uuid4().hex[:6]}", "t"
    async with sessions() as session, session.begin():
        await as_store(session).put_offsets(group=group, topic=topic, offsets={0: 1}, expected={})
    async with sessions() as reader, reader.begin():
        assert await as_store(reader).get_offsets(group=group, topic=topic, for_update=True) == {
            0: 1
        }
        async with sessions() as other:
            with pytest.raises(Exception, match="could not obtain lock"):
                await other.execute(
                    text("SELECT 1 FROM consumer_offsets WHERE group_id = :g FOR UPDATE NOWAIT"),
                    {"g": group},
                )


def _upgrade_to(connection: Connection, revision: str) -> None:
    command.upgrade(_config(connection), revision)


async def test_migration_moves_both_old_offsets_tables_without_losing_a_position(
    settings: CommonSettings,
) -> None:
    """A database at 0003 with profile and learner positions keeps every one of them in
    consumer_offsets after the upgrade, and the old tables are gone."""
    server_url = settings.database_url
    name = f"touchpoint_offsets_{uuid.uuid4().hex[:8]}"
    url = await create_database(server_url, name)
    engine = create_engine(CommonSettings(database_url=url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_to, "0003_recommend")
            await connection.execute(
                text(
                    "INSERT INTO profile_offsets (consumer_group, topic, partition, next_offset) "
                    "VALUES ('touchpoint-profile', 'interactions', 0, 41), "
                    "('touchpoint-profile', 'interactions', 1, 7)"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO recommend_learner_offsets (group_id, topic, partition, "
                    "next_offset) VALUES ('touchpoint-recommend-learner', 'interactions', 0, 40)"
                )
            )
        await run_migrations(engine)
        sessions = create_session_factory(engine)
        async with sessions() as session:
            store = as_store(session)
            profile = await store.get_offsets(group="touchpoint-profile", topic="interactions")
            learner = await store.get_offsets(
                group="touchpoint-recommend-learner", topic="interactions"
            )
            old = await session.scalar(
                text(
                    "SELECT count(*) FROM information_schema.tables WHERE table_name IN "
                    "('profile_offsets', 'recommend_learner_offsets')"
                )
            )
        assert profile == {0: 41, 1: 7}
        assert learner == {0: 40}
        assert old == 0
    finally:
        await engine.dispose()
        await drop_database(server_url, name)
