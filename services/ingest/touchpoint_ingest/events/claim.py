"""The claim transaction: claim the event_ids, lock and resolve the customers, then commit.

The customer exists before any consumer can see the event; an event whose customer cannot be
resolved releases its claim in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.events.payloads import EventType, UnmergePayload
from touchpoint_common.identity import store
from touchpoint_common.identity.pii import KeyRing
from touchpoint_common.identity.store import IdentityCache, ResolvedCustomer
from touchpoint_ingest.events.context import IngestContext
from touchpoint_ingest.events.idempotency import (
    ClaimState,
    claim_event_ids,
    get_recorded_merges,
    record_merges,
    release_claims,
)
from touchpoint_ingest.events.outcomes import ItemOutcome, claim_outcome, identity_outcome
from touchpoint_ingest.events.validation import Path, ValidEvent


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed event (by its index in the pass) and the customer it lands on."""

    index: int
    resolved: ResolvedCustomer


@dataclass(kw_only=True)
class ClaimResult:
    """The events to produce, and the outcomes of those that were settled here."""

    to_send: list[Claimed]
    outcomes: dict[int, ItemOutcome]


async def claim_and_resolve(
    *,
    context: IngestContext,
    events: Sequence[ValidEvent],
    unique: Sequence[int],
    paths: Sequence[Path],
) -> ClaimResult:
    """One transaction over the first copy of each event_id (`unique` indexes into events)."""
    result = ClaimResult(to_send=[], outcomes={})
    async with context.sessions() as session, session.begin():
        claims = await claim_event_ids(
            db_session=session,
            fingerprints={events[i].event_id: events[i].fingerprint for i in unique},
            stale_after_s=context.settings.idempotency_claim_timeout_s,
            owner=context.owner.instance,
        )
        earlier_merges = await get_recorded_merges(
            db_session=session,
            event_ids=[
                events[i].event_id
                for i in unique
                if events[i].link is not None and claims[events[i].event_id] is ClaimState.CLAIMED
            ],
        )
        merges: dict[UUID, tuple[str, ...]] = {}
        identifiers = [
            ident
            for index in unique
            if claims[events[index].event_id] is ClaimState.CLAIMED
            for ident in _identifiers_of(events[index])
        ]
        await store.lock_identifiers(db_session=session, keys=(i.key for i in identifiers))
        # One read for the whole pass of what the shared cache does not know yet.
        cache = await store.get_pass_cache(
            db_session=session, identifiers=identifiers, kek=context.kek, cache=context.cache
        )
        released: list[UUID] = []

        async def resolve_one(index: int) -> None:
            """Resolve one event on its own (identify, unmerge, erase, named customers...)."""
            valid = events[index]
            # Only identify and unmerge write before they can fail; others fail before any write.
            writes = valid.link is not None or valid.event.type is EventType.UNMERGE
            savepoint = session.begin_nested() if writes else nullcontext()
            try:
                async with savepoint:
                    resolved = await resolve_event(
                        db_session=session, valid=valid, kek=context.kek, cache=cache
                    )
            except store.IdentityRefusal as exc:
                result.outcomes[index] = identity_outcome(valid, exc, paths[index])
                released.append(valid.event_id)
                return
            resolved = with_earlier_merges(resolved, earlier_merges.get(valid.event_id, ()))
            if resolved.merged_customer_ids:
                merges[valid.event_id] = resolved.merged_customer_ids
            cache.remember(resolved)
            result.to_send.append(Claimed(index, resolved))

        async def resolve_together(group: list[int]) -> None:
            """Resolve identifier-only events in a few statements (one by one if unusual)."""
            if not group:
                return
            together = await store.resolve_customers(
                db_session=session,
                identifier_sets=[events[index].customer.identifiers for index in group],
                kek=context.kek,
                cache=cache,
            )
            if together is None:
                for index in group:
                    await resolve_one(index)
                return
            for index, resolved in zip(group, together, strict=True):
                cache.remember(resolved)
                result.to_send.append(Claimed(index, resolved))

        group: list[int] = []
        for index in unique:
            valid = events[index]
            state = claims[valid.event_id]
            if state is not ClaimState.CLAIMED:
                result.outcomes[index] = claim_outcome(valid.event_id, state, paths[index])
            elif identifiers_only(valid):
                group.append(index)
            else:  # in order: what this event changes, later events see
                await resolve_together(group)
                group = []
                await resolve_one(index)
        await resolve_together(group)
        await record_merges(db_session=session, merges=merges)
        await release_claims(db_session=session, event_ids=released)
    for claimed in result.to_send:
        context.cache.remember(claimed.resolved)
    return result


async def resolve_event(
    *, db_session: AsyncSession, valid: ValidEvent, kek: KeyRing, cache: IdentityCache
) -> ResolvedCustomer:
    """The customer an event lands on; identify links (and merges), unmerge splits, erase never
    mints."""
    spec = valid.customer
    if valid.event.type is EventType.UNMERGE:
        return await _unmerge(db_session=db_session, valid=valid, kek=kek, cache=cache)
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
    if not valid.may_link:
        return await _resolve_without_linking(
            db_session=db_session, valid=valid, kek=kek, cache=cache
        )
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
        event_id=valid.event_id,
    )
    for merged in resolved.merged_customer_ids:
        cache.forget_customer(merged)
    return resolved


async def _unmerge(
    *, db_session: AsyncSession, valid: ValidEvent, kek: KeyRing, cache: IdentityCache
) -> ResolvedCustomer:
    """unmerge (needs `identity:link`): the event lands on the survivor, the loser comes back."""
    if not valid.may_link:
        raise store.LinkNotPermitted("unmerging customers needs the identity:link scope")
    assert isinstance(valid.payload, UnmergePayload)
    loser = valid.payload.customer_id
    spec = valid.customer
    survivor = await store.resolve_customer(
        db_session=db_session,
        identifiers=spec.identifiers,
        customer_id=spec.customer_id,
        kek=kek,
        cache=cache,
        mint=False,
    )
    followers = await store.unmerge_customer(
        db_session=db_session,
        survivor_id=survivor.customer_id,
        loser_id=loser,
        kek=kek,
        event_id=valid.event_id,
    )
    cache.forget_customer(survivor.customer_id)
    cache.forget_customer(loser)
    return ResolvedCustomer(
        survivor.customer_id, survivor.data_key, unmerged_followers=tuple(followers)
    )


async def _resolve_without_linking(
    *, db_session: AsyncSession, valid: ValidEvent, kek: KeyRing, cache: IdentityCache
) -> ResolvedCustomer:
    """identify from a sender without `identity:link`: only unowned identifiers are attached,
    and only when everything it names belongs to at most one customer (else LinkNotPermitted).

    The identifiers are advisory-locked by the caller, so their owners cannot change between
    this check and the insert.
    """
    spec, link = valid.customer, valid.link
    assert link is not None
    everything = (*spec.identifiers, *link.identifiers)
    named = [cid for cid in (spec.customer_id, link.customer_id) if cid is not None]
    owners = await store.get_owning_customers(
        db_session=db_session, identifiers=everything, customer_ids=named
    )
    if len(owners) > 1:
        raise store.LinkNotPermitted(
            "these identifiers belong to different customers; linking or merging them "
            "needs the identity:link scope"
        )
    return await store.resolve_customer(
        db_session=db_session,
        identifiers=everything,
        customer_id=next(iter(owners), None),
        kek=kek,
        cache=cache,
    )


def with_earlier_merges(resolved: ResolvedCustomer, earlier: Sequence[str]) -> ResolvedCustomer:
    """`resolved` announcing also the merges an earlier attempt of its event made."""
    merged = tuple(
        dict.fromkeys(
            customer_id
            for customer_id in (*earlier, *resolved.merged_customer_ids)
            if customer_id != resolved.customer_id
        )
    )
    if merged == resolved.merged_customer_ids:
        return resolved
    return replace(resolved, merged_customer_ids=merged)


def identifiers_only(valid: ValidEvent) -> bool:
    """Whether the event names its customer only by identifiers under the current HMAC key and
    links nothing: such events are resolved together (`store.resolve_customers`)."""
    spec = valid.customer
    return (
        valid.link is None
        and valid.event.type not in (EventType.UNMERGE, EventType.ERASE)
        and spec.customer_id is None
        and bool(spec.identifiers)
        and not any(ident.older for ident in spec.identifiers)
    )


def _identifiers_of(valid: ValidEvent) -> tuple[store.Identifier, ...]:
    """Every identifier resolving this event may insert or repoint (its own and its links)."""
    linked = valid.link.identifiers if valid.link is not None else ()
    return (*valid.customer.identifiers, *linked)
