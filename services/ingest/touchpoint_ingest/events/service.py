"""Accepting events: claim the event_id, resolve the customer, produce, record the outcome.

Order matters for "a 2xx means it is in Kafka, and nothing counts twice":
1. claim every event_id (pending) and resolve identities in one transaction, then commit, so
   the customer exists before any consumer can see the event;
2. produce and wait for the broker's acknowledgement within a deadline;
3. mark the acknowledged ids accepted (a later retry is answered `duplicate` without a second
   copy) and release the others (their retry may produce).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random

from touchpoint_common.db.errors import is_conflict, is_retryable
from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.events.payloads import EventType
from touchpoint_common.identity import store
from touchpoint_common.identity.store import IdentityCache, ResolvedCustomer
from touchpoint_common.observability.metrics import EVENTS_PRODUCED, EVENTS_REJECTED
from touchpoint_ingest.events.idempotency import (
    ClaimState,
    claim_event_ids,
    mark_accepted,
    record_accepted,
    release_claims,
)
from touchpoint_ingest.events.models import FieldError, ItemStatus, Loc
from touchpoint_ingest.events.publish import Publisher
from touchpoint_ingest.events.validation import Rules, ValidEvent
from touchpoint_ingest.events.wire import build_interaction
from touchpoint_ingest.settings import IngestSettings

logger = logging.getLogger(__name__)
SERVICE = "ingest"


class Problem(StrEnum):
    """Why an item was not accepted; the views map it to an HTTP status."""

    CONFLICT = "event_id_conflict"
    IN_PROGRESS = "event_id_in_progress"
    ERASED = "customer_erased"
    UNKNOWN_CUSTOMER = "unknown_customer"
    UNAVAILABLE = "unavailable"


@dataclass(kw_only=True)
class IngestContext:
    """What accepting events needs; built once at start-up."""

    settings: IngestSettings
    sessions: async_sessionmaker[AsyncSession]
    publisher: Publisher
    cache: IdentityCache
    kek: bytes
    rules: Rules
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run follow-up work in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)


@dataclass(kw_only=True)
class ItemOutcome:
    """The fate of one valid event."""

    event_id: UUID
    status: ItemStatus
    problem: Problem | None = None
    errors: list[FieldError] = field(default_factory=list)


async def ingest_events(
    *, context: IngestContext, events: Sequence[ValidEvent], locs: Sequence[Loc]
) -> list[ItemOutcome]:
    """Accept valid events (one outcome each, in order); `locs` are their paths in the body."""
    outcomes: dict[int, ItemOutcome] = {}
    first_seen: dict[UUID, int] = {}
    for index, valid in enumerate(events):
        first_seen.setdefault(valid.event_id, index)
    unique = sorted(first_seen.values())
    try:
        to_send = await _claim_and_resolve_with_retries(context, events, unique, locs, outcomes)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        if not is_retryable(exc):
            raise
        logger.warning("database unavailable", extra={"error": type(exc).__name__})
        to_send = []
        for index in unique:
            outcomes[index] = _unavailable(events[index].event_id)
    await _send(context, events, to_send, outcomes)
    for index, valid in enumerate(events):
        if index not in outcomes:
            outcomes[index] = _repeat_outcome(
                valid, events[first_seen[valid.event_id]], locs[index]
            )
            outcomes[index] = _repeat_of(outcomes[first_seen[valid.event_id]], outcomes[index])
    for outcome in outcomes.values():
        if outcome.status in (ItemStatus.REJECTED, ItemStatus.UNAVAILABLE):
            EVENTS_REJECTED.labels(SERVICE, (outcome.problem or Problem.UNAVAILABLE).value).inc()
    return [outcomes[index] for index in range(len(events))]


async def _claim_and_resolve_with_retries(
    context: IngestContext,
    events: Sequence[ValidEvent],
    unique: list[int],
    locs: Sequence[Loc],
    outcomes: dict[int, ItemOutcome],
) -> list[tuple[int, ResolvedCustomer]]:
    """Deadlocks between passes minting the same new identifiers are retried from scratch."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_conflict),
        stop=stop_after_attempt(4),
        wait=wait_random(0.005, 0.05),
        reraise=True,
    ):
        with attempt:
            tried: dict[int, ItemOutcome] = {}
            to_send = await _claim_and_resolve(context, events, unique, locs, tried)
    outcomes.update(tried)
    return to_send


async def _claim_and_resolve(
    context: IngestContext,
    events: Sequence[ValidEvent],
    unique: list[int],
    locs: Sequence[Loc],
    outcomes: dict[int, ItemOutcome],
) -> list[tuple[int, ResolvedCustomer]]:
    to_send: list[tuple[int, ResolvedCustomer]] = []
    async with context.sessions() as session, session.begin():
        claims = await claim_event_ids(
            db_session=session,
            fingerprints={events[i].event_id: events[i].fingerprint for i in unique},
            stale_after_s=context.settings.idempotency_claim_timeout_s,
        )
        await store.lock_identifiers(
            db_session=session,
            keys=(
                ident.key
                for index in unique
                if claims[events[index].event_id] is ClaimState.CLAIMED
                for ident in _identifiers_of(events[index])
            ),
        )
        released: list[UUID] = []
        for index in unique:
            valid = events[index]
            state = claims[valid.event_id]
            if state is not ClaimState.CLAIMED:
                outcomes[index] = _claim_outcome(valid.event_id, state, locs[index])
                continue
            # Only identify writes before it can fail; other events fail before any write.
            savepoint = session.begin_nested() if valid.link is not None else nullcontext()
            try:
                async with savepoint:
                    resolved = await resolve_event(
                        db_session=session, valid=valid, kek=context.kek, cache=context.cache
                    )
            except (store.UnknownCustomer, store.ErasedCustomer) as exc:
                outcomes[index] = _identity_outcome(valid, exc, locs[index])
                released.append(valid.event_id)
                continue
            to_send.append((index, resolved))
        await release_claims(db_session=session, event_ids=released)
    for _, resolved in to_send:
        context.cache.remember(resolved)
    return to_send


async def _send(
    context: IngestContext,
    events: Sequence[ValidEvent],
    to_send: list[tuple[int, ResolvedCustomer]],
    outcomes: dict[int, ItemOutcome],
) -> None:
    if not to_send:
        return
    received_at = datetime.now(UTC)
    interactions = [
        build_interaction(events[index], resolved, received_at=received_at)
        for index, resolved in to_send
    ]
    fingerprints = {events[index].event_id: events[index].fingerprint for index, _ in to_send}

    def on_late_ack(event: InteractionEvent) -> None:
        EVENTS_PRODUCED.labels(SERVICE, event.type.value).inc()
        context.spawn(_record_late_ack(context, event, fingerprints[event.event_id]))

    acked = await context.publisher.publish(
        interactions, timeout_s=context.settings.produce_timeout_s, on_late_ack=on_late_ack
    )
    accepted: dict[UUID, str] = {}
    failed: list[UUID] = []
    for (index, resolved), interaction, ok in zip(to_send, interactions, acked, strict=True):
        if ok:
            accepted[interaction.event_id] = resolved.customer_id
            outcomes[index] = ItemOutcome(event_id=interaction.event_id, status=ItemStatus.ACCEPTED)
            EVENTS_PRODUCED.labels(SERVICE, interaction.type.value).inc()
            if interaction.type is EventType.ERASE:
                context.cache.forget_customer(resolved.customer_id)
        else:
            failed.append(interaction.event_id)
            outcomes[index] = _unavailable(interaction.event_id)
    try:
        async with context.sessions() as session:
            # Each statement stands alone: no BEGIN/COMMIT round trips on the hot path.
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            await mark_accepted(db_session=session, customers=accepted)
            await release_claims(db_session=session, event_ids=failed)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        if not is_retryable(exc):
            raise
        # The events are in Kafka; only the duplicate shortcut is lost (profile dedups anyway).
        logger.warning("could not record accepted event ids", extra={"error": type(exc).__name__})
    logger.info(
        "events produced",
        extra={"event_ids": [str(event_id) for event_id in accepted], "failed": len(failed)},
    )


async def _record_late_ack(context: IngestContext, event: InteractionEvent, fp: str) -> None:
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


async def resolve_event(
    *, db_session: AsyncSession, valid: ValidEvent, kek: bytes, cache: IdentityCache
) -> ResolvedCustomer:
    """The customer an event lands on; identify links (and merges), erase never mints."""
    spec = valid.customer
    if valid.link is None:
        return await store.resolve_customer(
            db_session=db_session,
            identifiers=spec.identifiers,
            customer_id=spec.customer_id,
            kek=kek,
            cache=cache,
            mint=valid.event.type is not EventType.ERASE,
        )
    everything = (*spec.identifiers, *valid.link.identifiers)
    resolved = await store.resolve_customer(
        db_session=db_session,
        identifiers=everything,
        customer_id=spec.customer_id,
        kek=kek,
        cache=cache,
    )
    resolved = await store.link_identifiers(
        db_session=db_session,
        resolved=resolved,
        identifiers=everything,
        customer_id=valid.link.customer_id,
        kek=kek,
    )
    for merged in resolved.merged_customer_ids:
        cache.forget_customer(merged)
    return resolved


def _identifiers_of(valid: ValidEvent) -> tuple[store.Identifier, ...]:
    """Every identifier resolving this event may insert or repoint (its own and its links)."""
    linked = valid.link.identifiers if valid.link is not None else ()
    return (*valid.customer.identifiers, *linked)


def _unavailable(event_id: UUID) -> ItemOutcome:
    return ItemOutcome(
        event_id=event_id, status=ItemStatus.UNAVAILABLE, problem=Problem.UNAVAILABLE
    )


def _claim_outcome(event_id: UUID, state: ClaimState, loc: Loc) -> ItemOutcome:
    if state is ClaimState.DUPLICATE:
        return ItemOutcome(event_id=event_id, status=ItemStatus.DUPLICATE)
    if state is ClaimState.IN_PROGRESS:
        msg = "an event with this event_id is being accepted right now; retry shortly"
        return ItemOutcome(
            event_id=event_id,
            status=ItemStatus.UNAVAILABLE,
            problem=Problem.IN_PROGRESS,
            errors=[FieldError(loc=[*loc, "event_id"], msg=msg, type=Problem.IN_PROGRESS.value)],
        )
    msg = "this event_id was already used for a different event"
    return ItemOutcome(
        event_id=event_id,
        status=ItemStatus.REJECTED,
        problem=Problem.CONFLICT,
        errors=[FieldError(loc=[*loc, "event_id"], msg=msg, type=Problem.CONFLICT.value)],
    )


def _identity_outcome(valid: ValidEvent, exc: LookupError, loc: Loc) -> ItemOutcome:
    named_directly = valid.customer.customer_id is not None
    if isinstance(exc, store.ErasedCustomer):
        problem, msg = Problem.ERASED, "this customer has been erased (asked to be forgotten)"
    elif named_directly:
        problem, msg = Problem.UNKNOWN_CUSTOMER, "no customer has this customer_id"
    else:
        problem, msg = Problem.UNKNOWN_CUSTOMER, "no customer is known by these identifiers"
    where: Loc = [*loc, "customer", "customer_id"] if named_directly else [*loc, "customer"]
    if valid.link is not None and valid.link.customer_id is not None and not named_directly:
        where = [*loc, "payload", "link", "customer_id"]
    return ItemOutcome(
        event_id=valid.event_id,
        status=ItemStatus.REJECTED,
        problem=problem,
        errors=[FieldError(loc=where, msg=msg, type=problem.value)],
    )


def _repeat_outcome(valid: ValidEvent, first: ValidEvent, loc: Loc) -> ItemOutcome:
    if valid.fingerprint != first.fingerprint:
        return _claim_outcome(valid.event_id, ClaimState.CONFLICT, loc)
    return ItemOutcome(event_id=valid.event_id, status=ItemStatus.DUPLICATE)


def _repeat_of(first: ItemOutcome, repeat: ItemOutcome) -> ItemOutcome:
    """A repeat within one batch shares the first copy's fate unless it conflicts."""
    if repeat.status is ItemStatus.REJECTED:
        return repeat
    if first.status in (ItemStatus.ACCEPTED, ItemStatus.DUPLICATE):
        return repeat
    return ItemOutcome(
        event_id=first.event_id, status=first.status, problem=first.problem, errors=first.errors
    )
