"""The profile fold as a tracked-consumer handler: decode, fold in the transaction, observe."""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from aiokafka import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.events.codec import UndecodableEvent, decode_event
from touchpoint_common.identity.store import erase_customer
from touchpoint_common.observability.metrics import (
    EVENTS_DUPLICATE,
    EVENTS_FOLDED,
    FOLD_FRESHNESS,
)
from touchpoint_common.tracking.dead_letter import Rejected
from touchpoint_common.tracking.traces import get_record_traceparent
from touchpoint_profile.consumer.batch import BatchOutcome, apply_batch
from touchpoint_profile.fold.events import ContractViolation, ParsedEvent, parse_event
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.projection.postgres import LIVE_TABLE, VALUE_TABLE, PostgresProjection

Clock = Callable[[], datetime]
FOLD_GC_THRESHOLDS = (20_000, 50, 100)
"""Young-generation collection every 20,000 allocations instead of 700: a batch allocates
hundreds of thousands of short-lived, acyclic objects (records, events, state copies), and
collecting them 700 at a time, each pass walking the older generations' survivors, cost a
fifth of the fold's CPU (docs/benchmarks.md, "Fold and state size")."""


def tune_gc_for_folding() -> None:
    """Freeze what the process holds so far (modules, settings: never garbage) out of every
    collection, and collect the young generation less often (process-wide, idempotent)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*FOLD_GC_THRESHOLDS)


def utc_now() -> datetime:
    """The wall clock in UTC."""
    return datetime.now(UTC)


def decode_record(record: ConsumerRecord[bytes, bytes]) -> ParsedEvent:
    """The record as an event ready to fold; Rejected (with why) when it breaks the contract."""
    try:
        parsed = parse_event(decode_event(record.value))
    except UndecodableEvent as exc:
        raise Rejected(exc.reason, "undecodable") from exc
    except ContractViolation as exc:
        raise Rejected(str(exc), "contract") from exc
    key = record.key.decode(errors="replace") if record.key is not None else None
    if key != parsed.event.customer_id:
        raise Rejected("record key does not match customer_id", "contract")
    trace_parent = get_record_traceparent(record)
    return parsed if trace_parent is None else replace(parsed, trace_parent=trace_parent)


class FoldHandler:
    """Folds a batch of events into the projection table inside the batch transaction."""

    def __init__(
        self,
        *,
        rules: FoldRules,
        service_name: str,
        clock: Clock = utc_now,
        table: str = LIVE_TABLE,
        value_table: str = VALUE_TABLE,
    ) -> None:
        self.rules = rules
        self.service_name = service_name
        self.clock = clock
        self.table = table
        self.value_table = value_table
        tune_gc_for_folding()

    def decode(self, record: ConsumerRecord[bytes, bytes]) -> ParsedEvent:
        """The record as an event ready to fold; Rejected when it breaks the contract."""
        return decode_record(record)

    async def apply(
        self, *, db_session: AsyncSession, items: Sequence[ParsedEvent]
    ) -> BatchOutcome:
        """Locked states folded and written; erasures reach the identity tables too."""

        async def erase(customer_id: str) -> list[str]:
            return await erase_customer(db_session=db_session, customer_id=customer_id)

        return await apply_batch(
            store=PostgresProjection(db_session, table=self.table, value_table=self.value_table),
            events=items,
            now=self.clock(),
            rules=self.rules,
            erase=erase,
        )

    def observe(self, items: Sequence[ParsedEvent], outcome: BatchOutcome) -> None:
        """Folded and duplicate counts, and how long each event took to become visible."""
        for event_type, count in outcome.folded.items():
            EVENTS_FOLDED.labels(self.service_name, event_type).inc(count)
        if outcome.duplicates:
            EVENTS_DUPLICATE.labels(self.service_name).inc(outcome.duplicates)
        visible_at = utc_now()
        for parsed in items:
            FOLD_FRESHNESS.labels(self.service_name).observe(
                max(0.0, (visible_at - parsed.event.received_at).total_seconds())
            )
