"""The profile's own customer API: the view with masked identifiers, by id or raw identifier.

Other services use `touchpoint_profile.read` instead (no identifiers, nothing decrypted).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.events.payloads import IdentifierKind
from touchpoint_common.identity import lookup, pii
from touchpoint_profile.customers.models import CustomerTimeline, CustomerView, MaskedIdentifier
from touchpoint_profile.fold.evaluate import get_timeline
from touchpoint_profile.fold.ranking import BaseRanking
from touchpoint_profile.read import get_customer_profile, get_customer_state
from touchpoint_profile.settings import ProfileSettings

LOOKUP_KINDS: tuple[IdentifierKind, ...] = ("phone", "loyalty_id", "email")


@lru_cache(maxsize=1)
def get_default_settings() -> ProfileSettings:
    """The process's settings, read once from the environment."""
    return ProfileSettings()


async def get_masked_identifiers(
    *, db_session: AsyncSession, customer_id: str, kek: pii.KeyRing
) -> list[MaskedIdentifier]:
    """The customer's identifiers opened with its key and masked; none once the key is gone."""
    masked = await lookup.get_masked_identifiers(
        db_session=db_session, customer_id=customer_id, kek=kek
    )
    return [MaskedIdentifier(kind=kind, masked=value) for kind, value in masked]


async def get_customer_view(
    *,
    db_session: AsyncSession,
    customer_id: str,
    now: datetime,
    settings: ProfileSettings | None = None,
    ranking: BaseRanking | None = None,
) -> CustomerView | None:
    """The live view at `now` (decay and windows evaluated then), graded by `ranking` when
    given (else the FoldRules defaults), or None: unknown or erased."""
    config = settings or get_default_settings()
    figures = await get_customer_profile(
        db_session=db_session,
        customer_id=customer_id,
        now=now,
        rules=config.profile_rules,
        ranking=ranking,
    )
    if figures is None:
        return None
    kek = config.kek_ring()
    identifiers = await get_masked_identifiers(
        db_session=db_session, customer_id=figures.customer_id, kek=kek
    )
    # Both parts are validated models already: constructing skips a dump and a re-validation.
    return CustomerView.model_construct(**dict(figures), identifiers=identifiers)


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
    """The live customer with this raw identifier; raises lookup.BadIdentifier when malformed."""
    config = settings or get_default_settings()
    return await lookup.find_customer_by_identifier(
        db_session=db_session,
        kind=kind,
        raw=raw_value,
        hmac_key=config.hmac_key_ring(),
        default_region=config.default_phone_region,
    )


async def lookup_customer_view(
    *,
    db_session: AsyncSession,
    kind: IdentifierKind,
    raw_value: str,
    now: datetime,
    settings: ProfileSettings | None = None,
    ranking: BaseRanking | None = None,
) -> CustomerView | None:
    """The view of whoever owns this raw identifier (phone in any common format), or None."""
    customer_id = await find_customer_id(
        db_session=db_session, kind=kind, raw_value=raw_value, settings=settings
    )
    if customer_id is None:
        return None
    return await get_customer_view(
        db_session=db_session, customer_id=customer_id, now=now, settings=settings, ranking=ranking
    )
