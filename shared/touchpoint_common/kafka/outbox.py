"""The transactional outbox: records written in the caller's transaction, relayed to Kafka.

A service that must not lose an event it decided on, nor wait for the broker on its request
path, adds the record to `kafka_outbox` in the same transaction as its own rows
(`add_to_outbox`); once that commits, the event is owed. `OutboxRelay` sends the owed records
through the runtime's one Publisher in outbox order (so in order per key: per customer) and
marks them sent. Delivery is at least once: a crash between the broker's acknowledgement and
the mark sends a record again, with the same event_id in its headers, which consumers dedupe
(the profile fold does). One relay works at a time (a transaction-scoped advisory lock), so
several processes may run one each without reordering anything; the others wait their turn.
Rows and relays have a scope: a relay sends only its scope's rows, and one relay per scope
works at a time. Every process on one broker shares the default scope; a process writing for
another broker (a test's private one) uses its own, so no relay sends its rows elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.kafka.publisher import OutgoingRecord, Publisher, get_wire_headers
from touchpoint_common.observability.metrics import EVENTS_PRODUCED

logger = logging.getLogger(__name__)

OUTBOX_TABLE = "kafka_outbox"
RELAY_LOCK = 0x6B6F7574626F78
"""Seed of the relay's pg advisory lock key ("koutbox"), hashed with the scope: one relay
transaction per scope at a time."""
DEFAULT_SCOPE = "default"

_INSERT = text(
    "INSERT INTO kafka_outbox (topic, record_key, record_value, header_names, header_values, "
    "dedup_key, source, scope) "
    "SELECT *, CAST(:scope AS text) FROM unnest(CAST(:topics AS text[]), "
    "CAST(:keys AS bytea[]), CAST(:values AS bytea[]), CAST(:names AS text[]), "
    "CAST(:header_values AS text[]), CAST(:dedup_keys AS text[]), CAST(:sources AS text[]))"
)
_CLAIM = text(
    "SELECT id, topic, record_key, record_value, header_names, header_values, dedup_key, source "
    "FROM kafka_outbox WHERE sent_at IS NULL AND scope = :scope ORDER BY id LIMIT :limit "
    "FOR UPDATE SKIP LOCKED"
)
_MARK_SENT = text("UPDATE kafka_outbox SET sent_at = now() WHERE id = ANY(:ids)")
_PRUNE = text(
    "DELETE FROM kafka_outbox WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval("
    "secs => :keep_s)"
)
HEADER_SEPARATOR = "\x1f"


@dataclass(frozen=True, slots=True)
class OwedRecord:
    """One outbox row not yet sent: its id (the order) and the record to send."""

    outbox_id: int
    record: OutgoingRecord
    source: str
    """What wrote it, for the produced-events metric (e.g. "recommend/offer_presented")."""


async def add_to_outbox(
    *,
    db_session: AsyncSession,
    records: Sequence[OutgoingRecord],
    source: str,
    scope: str = DEFAULT_SCOPE,
) -> None:
    """Owe these records to Kafka, in the caller's transaction (one statement)."""
    if not records:
        return
    # The wire headers now, in the caller's context: the trace (when on) is the writer's,
    # not the relay's that sends it later.
    headers = [get_wire_headers(record) for record in records]
    await db_session.execute(
        _INSERT,
        {
            "topics": [record.topic for record in records],
            "keys": [record.key for record in records],
            "values": [record.value for record in records],
            "names": [HEADER_SEPARATOR.join(name for name, _ in h) for h in headers],
            "header_values": [HEADER_SEPARATOR.join(v.hex() for _, v in h) for h in headers],
            "dedup_keys": [
                None if record.dedup_key is None else str(record.dedup_key) for record in records
            ],
            "sources": [source] * len(records),
            "scope": scope,
        },
    )


def split_headers(names: str, values: str) -> tuple[tuple[str, bytes], ...]:
    """The headers add_to_outbox flattened (names and hex values, separated)."""
    if not names:
        return ()
    return tuple(
        (name, bytes.fromhex(value))
        for name, value in zip(
            names.split(HEADER_SEPARATOR), values.split(HEADER_SEPARATOR), strict=True
        )
    )


async def get_owed_records(
    *, db_session: AsyncSession, limit: int, scope: str = DEFAULT_SCOPE
) -> list[OwedRecord]:
    """The oldest unsent rows of the scope, locked for this transaction (rows another holds
    are skipped)."""
    rows = await db_session.execute(_CLAIM, {"limit": limit, "scope": scope})
    return [
        OwedRecord(
            outbox_id=row.id,
            record=OutgoingRecord(
                topic=row.topic,
                key=row.record_key,
                value=row.record_value,
                headers=split_headers(row.header_names, row.header_values),
                dedup_key=row.dedup_key,
            ),
            source=row.source,
        )
        for row in rows
    ]


def acknowledged_prefix(owed: Sequence[OwedRecord], acked: Sequence[bool]) -> list[OwedRecord]:
    """The records up to the first one not acknowledged: marking only these keeps the order
    (the rest go again, after the unacknowledged one; a second copy is deduped downstream)."""
    done: list[OwedRecord] = []
    for item, ok in zip(owed, acked, strict=True):
        if not ok:
            break
        done.append(item)
    return done


class OutboxRelay:
    """Sends owed outbox rows through the Publisher, oldest first, and marks them sent."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publisher: Publisher,
        *,
        timeout_s: float,
        poll_s: float = 1.0,
        linger_s: float = 0.02,
        batch: int = 500,
        keep_sent_s: float = 86_400.0,
        scope: str = DEFAULT_SCOPE,
    ) -> None:
        self.sessions = sessions
        self.publisher = publisher
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.linger_s = linger_s
        """After a wake, wait this long so the rows of several requests go in one round."""
        self.batch = batch
        self.keep_sent_s = keep_sent_s
        self.scope = scope
        self.wake = asyncio.Event()
        """Set after a commit that added rows: the relay sends them without waiting a poll."""

    def notify(self) -> None:
        """Rows were just committed: relay them now."""
        self.wake.set()

    async def relay_once(self) -> int:
        """One transaction: send the oldest owed rows, mark the acknowledged prefix sent;
        returns how many were marked (0 also when another relay holds the turn)."""
        async with self.sessions() as db_session, db_session.begin():
            turn = await db_session.scalar(
                text("SELECT pg_try_advisory_xact_lock(hashtextextended(:scope, :seed))"),
                {"scope": self.scope, "seed": RELAY_LOCK},
            )
            if not turn:
                return 0
            owed = await get_owed_records(db_session=db_session, limit=self.batch, scope=self.scope)
            if not owed:
                return 0
            acked = await self.publisher.publish(
                [item.record for item in owed], timeout_s=self.timeout_s
            )
            done = acknowledged_prefix(owed, acked)
            if done:
                await db_session.execute(_MARK_SENT, {"ids": [item.outbox_id for item in done]})
            for item in done:
                service, _, event_type = item.source.partition("/")
                EVENTS_PRODUCED.labels(service, event_type).inc()
            return len(done)

    async def prune(self) -> None:
        """Forget rows sent longer ago than keep_sent_s."""
        async with self.sessions() as db_session, db_session.begin():
            await db_session.execute(_PRUNE, {"keep_s": self.keep_sent_s})

    async def run(self) -> None:
        """Relay until cancelled: after every notify, and every poll_s for rows other
        processes (or an earlier run of this one) left owed; survives database and broker
        failures by trying again."""
        loop = asyncio.get_running_loop()
        next_prune = loop.time()
        while True:
            self.wake.clear()
            sent = 0
            try:
                sent = await self.relay_once()
                if loop.time() >= next_prune:
                    await self.prune()
                    next_prune = loop.time() + 60.0
            except Exception as exc:  # the relay must outlive any failure; the rows stay owed
                logger.warning("outbox relay round failed", extra={"error": type(exc).__name__})
            if sent >= self.batch:
                continue  # more may be owed: no wait
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.poll_s)
                await asyncio.sleep(self.linger_s)
