"""Producing claimed events within a deadline, then recording which were acknowledged.

Acknowledged event_ids are marked accepted (a later retry is answered `duplicate` without a
second copy); the others are released (their retry may produce). A send that is acknowledged
after its deadline is recorded then, in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime
from uuid import UUID

from touchpoint_common.db.errors import is_retryable
from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.events.payloads import EventType
from touchpoint_common.kafka.publisher import OutgoingRecord, event_record
from touchpoint_common.observability.metrics import EVENTS_PRODUCED
from touchpoint_ingest.events.claim import Claimed
from touchpoint_ingest.events.context import SERVICE, IngestContext
from touchpoint_ingest.events.idempotency import mark_accepted, record_accepted, release_claims
from touchpoint_ingest.events.outcomes import ItemOutcome, accepted, unavailable
from touchpoint_ingest.events.retries import DATABASE_ERRORS
from touchpoint_ingest.events.validation import ValidEvent
from touchpoint_ingest.events.wire import build_interaction

logger = logging.getLogger(__name__)


async def produce(
    *, context: IngestContext, events: Sequence[ValidEvent], to_send: Sequence[Claimed]
) -> dict[int, ItemOutcome]:
    """Send the claimed events (indexes into `events`); accepted or unavailable, by index."""
    if not to_send:
        return {}
    received_at = datetime.now(UTC)
    interactions = {
        claimed.index: build_interaction(
            events[claimed.index], claimed.resolved, received_at=received_at
        )
        for claimed in to_send
    }
    by_id: dict[Hashable, InteractionEvent] = {i.event_id: i for i in interactions.values()}
    fingerprints = {events[index].event_id: events[index].fingerprint for index in interactions}

    def on_late_ack(record: OutgoingRecord) -> None:
        """The send landed after all: count it and put it on record."""
        event = by_id[record.dedup_key]
        EVENTS_PRODUCED.labels(SERVICE, event.type.value).inc()
        context.spawn(record_late_ack(context, event, fingerprints[event.event_id]))

    topic = context.settings.topic_interactions
    acked = await context.publisher.publish(
        [
            event_record(interaction, topic=topic, trace=events[index].trace)
            for index, interaction in interactions.items()
        ],
        timeout_s=context.settings.produce_timeout_s,
        on_late_ack=on_late_ack,
    )
    outcomes: dict[int, ItemOutcome] = {}
    customers: dict[UUID, str] = {}
    failed: list[UUID] = []
    for (index, interaction), ok in zip(interactions.items(), acked, strict=True):
        if ok:
            customers[interaction.event_id] = interaction.customer_id
            outcomes[index] = accepted(interaction.event_id)
            EVENTS_PRODUCED.labels(SERVICE, interaction.type.value).inc()
            if interaction.type is EventType.ERASE:
                context.cache.forget_customer(interaction.customer_id)
        else:
            failed.append(interaction.event_id)
            outcomes[index] = unavailable(interaction.event_id)
    await _record_acks(context, customers=customers, failed=failed)
    return outcomes


async def _record_acks(
    context: IngestContext, *, customers: dict[UUID, str], failed: list[UUID]
) -> None:
    """Mark the acknowledged event_ids accepted (with their customer), release the others."""
    try:
        async with context.sessions() as session:
            # Each statement stands alone: no BEGIN/COMMIT round trips on the hot path.
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            await mark_accepted(db_session=session, customers=customers)
            await release_claims(db_session=session, event_ids=failed)
    except DATABASE_ERRORS as exc:
        if not is_retryable(exc):
            raise
        # The events are in Kafka; only the duplicate shortcut is lost (profile dedups anyway).
        logger.warning("could not record accepted event ids", extra={"error": type(exc).__name__})
    logger.info(
        "events produced",
        extra={"event_ids": [str(event_id) for event_id in customers], "failed": len(failed)},
    )


async def record_late_ack(context: IngestContext, event: InteractionEvent, fp: str) -> None:
    """A send that missed its deadline did land: remember it, so a retry is a duplicate."""
    try:
        async with context.sessions() as session, session.begin():
            await record_accepted(
                db_session=session,
                event_id=event.event_id,
                fingerprint=fp,
                customer_id=event.customer_id,
            )
    except Exception as exc:  # best effort: the profile's dedup still holds
        logger.warning("late acknowledgement not recorded", extra={"error": type(exc).__name__})
    logger.info("event acknowledged after its deadline", extra={"event_id": str(event.event_id)})
