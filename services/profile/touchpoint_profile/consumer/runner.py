"""The profile's fold consumer: the tracked consumer with the fold handler.

Exactly-once, seeking, dead letters and retries are the common tracked consumer's
(`touchpoint_common.tracking.consumer`); this module only says which group, topic and window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.kafka.publisher import Publisher
from touchpoint_common.tracking.consumer import TrackedConsumer, Tracking
from touchpoint_profile.consumer.batch import BatchOutcome
from touchpoint_profile.consumer.handler import Clock, FoldHandler, utc_now
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.projection.postgres import LIVE_TABLE
from touchpoint_profile.settings import ProfileSettings


def get_window_start(settings: ProfileSettings, now: datetime) -> datetime:
    """The oldest moment the windowed figures still count: where a new fold starts reading."""
    return now - timedelta(days=settings.profile_rules.window_days)


def get_tracking(settings: ProfileSettings, *, clock: Clock = utc_now) -> Tracking:
    """The fold's group on the interactions topic, from the start of the window."""
    return Tracking.of_interactions(
        settings,
        group=settings.consumer_group,
        role="fold",
        since=lambda: get_window_start(settings, clock()),
        batch_max_records=settings.consumer_batch_max_records,
        batch_timeout_ms=settings.consumer_batch_timeout_ms,
        db_retry_attempts=settings.consumer_db_retry_attempts,
    )


class ProfileConsumer(TrackedConsumer[ParsedEvent, BatchOutcome]):
    """Consumer group `settings.consumer_group` folding the interactions topic."""

    def __init__(
        self,
        settings: ProfileSettings,
        *,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer | Publisher,
        clock: Clock = utc_now,
        table: str = LIVE_TABLE,
    ) -> None:
        handler = FoldHandler(
            rules=settings.profile_rules,
            service_name=settings.service_name,
            clock=clock,
            table=table,
        )
        super().__init__(
            settings,
            tracking=get_tracking(settings, clock=clock),
            handler=handler,
            sessions=sessions,
            producer=producer,
        )
