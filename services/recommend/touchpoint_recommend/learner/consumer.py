"""The learner: the tracked consumer with a handler that folds offer events into recommend's
tables.

Exactly-once, seeking, dead letters and retries are the common tracked consumer's
(`touchpoint_common.tracking.consumer`). A response changes state only while its offer has no
outcome, so the same answer posted twice under two event ids is learned once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer, ConsumerRecord
from prometheus_client import Counter as MetricCounter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.events.codec import UndecodableEvent, decode_event
from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.kafka.publisher import Publisher
from touchpoint_common.tracking.consumer import TrackedConsumer, Tracking
from touchpoint_common.tracking.dead_letter import Rejected
from touchpoint_recommend.learner.service import apply_event
from touchpoint_recommend.settings import RecommendSettings
from touchpoint_recommend.store.postgres import PostgresRecommendStore

LEARNED = MetricCounter(
    "touchpoint_recommend_learner_events_total",
    "Events the learner handled, by what they did (response, response_unmatched, ...).",
    ["result"],
)
Results = Counter[str]


class LearnerHandler:
    """Applies decoded events to recommend's store inside the batch transaction."""

    def __init__(self) -> None:
        self.results: Results = Counter()
        """What every committed batch did, by result (for tests and the admin summary)."""

    def decode(self, record: ConsumerRecord[bytes, bytes]) -> InteractionEvent:
        """The record as an InteractionEvent; Rejected when it is not one."""
        try:
            return decode_event(record.value)
        except UndecodableEvent as exc:
            raise Rejected(exc.reason, "undecodable") from exc

    async def apply(
        self, *, db_session: AsyncSession, items: Sequence[InteractionEvent]
    ) -> Results:
        """Fold each event: decisions, responses (learned once), erasures, merges."""
        store = PostgresRecommendStore(db_session)
        results: Results = Counter()
        for event in items:
            results[await apply_event(store, event)] += 1
        return results

    def observe(self, items: Sequence[InteractionEvent], outcome: Results) -> None:
        """Count the committed results."""
        for result, count in outcome.items():
            LEARNED.labels(result).inc(count)
        self.results.update(outcome)


def get_tracking(settings: RecommendSettings) -> Tracking:
    """The learner's group on the interactions topic, from the start of the log."""
    return Tracking.of_interactions(
        settings,
        group=settings.learner_group,
        role="learner",
        since=lambda: None,
        batch_max_records=settings.learner_batch_max_records,
        batch_timeout_ms=settings.learner_batch_timeout_ms,
    )


class Learner(TrackedConsumer[InteractionEvent, Results]):
    """Consumes the interactions topic and folds offer events into recommend's tables."""

    def __init__(
        self,
        settings: RecommendSettings,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer | Publisher,
    ) -> None:
        self.learner = LearnerHandler()
        super().__init__(
            settings,
            tracking=get_tracking(settings),
            handler=self.learner,
            sessions=sessions,
            producer=producer,
        )

    @property
    def results(self) -> Results:
        """What every committed batch did, by result."""
        return self.learner.results
