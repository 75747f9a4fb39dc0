"""Accepting events: claim the event_id, resolve the customer, produce, record the outcome.

Order matters for "a 2xx means it is in Kafka, and nothing counts twice":
1. claim every event_id (pending) and resolve identities in one transaction, then commit, so
   the customer exists before any consumer can see the event (`claim`);
2. produce and wait for the broker's acknowledgement within a deadline (`produce`);
3. mark the acknowledged ids accepted (a later retry is answered `duplicate` without a second
   copy) and release the others (their retry may produce).
Repeats of an event_id within a pass follow the first copy (`repeats`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

from touchpoint_common.db.errors import is_retryable
from touchpoint_common.observability.metrics import EVENTS_REJECTED
from touchpoint_ingest.events.claim import ClaimResult, claim_and_resolve
from touchpoint_ingest.events.context import SERVICE, IngestContext
from touchpoint_ingest.events.models import ItemStatus
from touchpoint_ingest.events.outcomes import ItemOutcome, Refusal, unavailable
from touchpoint_ingest.events.produce import produce
from touchpoint_ingest.events.repeats import first_copies, repeat_outcome
from touchpoint_ingest.events.retries import DATABASE_ERRORS, retry_conflicts
from touchpoint_ingest.events.validation import Path, ValidEvent

logger = logging.getLogger(__name__)


async def ingest_events(
    *, context: IngestContext, events: Sequence[ValidEvent], paths: Sequence[Path]
) -> list[ItemOutcome]:
    """Accept valid events (one outcome each, in order); `paths` are their places in the body."""
    first_seen = first_copies(events)
    unique = sorted(first_seen.values())
    try:
        claimed = await retry_conflicts(
            partial(claim_and_resolve, context=context, events=events, unique=unique, paths=paths)
        )
    except DATABASE_ERRORS as exc:
        if not is_retryable(exc):
            raise
        logger.warning("database unavailable", extra={"error": type(exc).__name__})
        claimed = ClaimResult(
            to_send=[], outcomes={i: unavailable(events[i].event_id) for i in unique}
        )
    outcomes = claimed.outcomes
    outcomes.update(await produce(context=context, events=events, to_send=claimed.to_send))
    for index, valid in enumerate(events):
        if index not in outcomes:
            first = first_seen[valid.event_id]
            outcomes[index] = repeat_outcome(
                valid, first=events[first], first_outcome=outcomes[first], path=paths[index]
            )
    for outcome in outcomes.values():
        if outcome.status in (ItemStatus.REJECTED, ItemStatus.UNAVAILABLE):
            EVENTS_REJECTED.labels(SERVICE, (outcome.refusal or Refusal.UNAVAILABLE).value).inc()
    return [outcomes[index] for index in range(len(events))]
