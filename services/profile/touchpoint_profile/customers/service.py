"""Reading the projection: the view of a customer, by id or by a raw identifier."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.events.payloads import IdentifierKind
from touchpoint_common.identity import pii
from touchpoint_common.identity.store import (
    customer_identifiers,
    get_customer_id,
    get_data_key,
    make_identifier,
)
from touchpoint_profile.customers.models import CustomerTimeline, CustomerView, MaskedIdentifier
from touchpoint_profile.fold.evaluate import evaluate, get_timeline
from touchpoint_profile.fold.state import CustomerState
from touchpoint_profile.projection.postgres import PostgresProjection
from touchpoint_profile.settings import ProfileSettings

MAX_MERGE_HOPS = 5
LOOKUP_KINDS: tuple[IdentifierKind, ...] = ("phone", "loyalty_id", "email")


@lru_cache(maxsize=1)
def get_default_settings() -> ProfileSettings:
    """The process's settings, read once from the environment."""
    return ProfileSettings()


async def get_customer_state(*, db_session: AsyncSession, customer_id: str) -> CustomerState | None:
    """The folded state, following merges to the surviving customer; None when unknown/erased."""
    store = PostgresProjection(db_session)
    current = customer_id
    for _ in range(MAX_MERGE_HOPS):
        state = await store.get_state(current)
        if state is None or state.is_erased:
            return None
        if state.merged_into is None:
            return state
        current = state.merged_into
    return None


async def get_masked_identifiers(
    *, db_session: AsyncSession, customer_id: str, kek: bytes
) -> list[MaskedIdentifier]:
    """The customer's identifiers opened with its key and masked; none once the key is gone."""
    data_key = await get_data_key(db_session=db_session, customer_id=customer_id, kek=kek)
    if data_key is None:
        return []
    table = customer_identifiers.c
    query = (
        select(table.kind, table.sealed)
        .where(table.customer_id == customer_id)
        .order_by(table.kind, table.digest)
    )
    masked: list[MaskedIdentifier] = []
    for row in await db_session.execute(query):
        if row.sealed is None:
            continue
        plain = pii.open_sealed(row.sealed, data_key=data_key, context=row.kind)
        masked.append(MaskedIdentifier(kind=row.kind, masked=pii.mask_identifier(row.kind, plain)))
    return masked


async def get_customer_view(
    *,
    db_session: AsyncSession,
    customer_id: str,
    now: datetime,
    settings: ProfileSettings | None = None,
) -> CustomerView | None:
    """The live view at `now` (decay and windows evaluated then), or None: unknown or erased."""
    config = settings or get_default_settings()
    state = await get_customer_state(db_session=db_session, customer_id=customer_id)
    if state is None:
        return None
    figures = evaluate(state, now, config.profile_rules)
    kek = pii.decode_kek(config.pii_kek.get_secret_value())
    identifiers = await get_masked_identifiers(
        db_session=db_session, customer_id=state.customer_id, kek=kek
    )
    return CustomerView(**figures.model_dump(), identifiers=identifiers)


async def get_customer_timeline(
    *, db_session: AsyncSession, customer_id: str, limit: int
) -> CustomerTimeline | None:
    """The newest `limit` interactions, or None when unknown or erased."""
    state = await get_customer_state(db_session=db_session, customer_id=customer_id)
    if state is None:
        return None
    return CustomerTimeline(customer_id=state.customer_id, timeline=get_timeline(state, limit))


async def find_customer_id(
    *,
    db_session: AsyncSession,
    kind: IdentifierKind,
    raw_value: str,
    settings: ProfileSettings | None = None,
) -> str | None:
    """Normalise like ingest, key by HMAC, look up; raises pii.InvalidIdentifier when malformed."""
    config = settings or get_default_settings()
    identifier = make_identifier(
        kind,
        raw_value,
        hmac_key=config.pii_hmac_key.get_secret_value().encode(),
        default_region=config.default_phone_region,
    )
    return await get_customer_id(db_session=db_session, kind=kind, digest=identifier.digest)


async def lookup_customer_view(
    *,
    db_session: AsyncSession,
    kind: IdentifierKind,
    raw_value: str,
    now: datetime,
    settings: ProfileSettings | None = None,
) -> CustomerView | None:
    """The view of whoever owns this raw identifier (phone in any common format), or None."""
    customer_id = await find_customer_id(
        db_session=db_session, kind=kind, raw_value=raw_value, settings=settings
    )
    if customer_id is None:
        return None
    return await get_customer_view(
        db_session=db_session, customer_id=customer_id, now=now, settings=settings
    )
