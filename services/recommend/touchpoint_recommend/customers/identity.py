"""Which customer a request names: by id (following merges) or by phone / loyalty id."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.events.payloads import IdentifierKind
from touchpoint_common.identity import store
from touchpoint_common.identity.pii import InvalidIdentifier


class BadIdentifier(ValueError):
    """A phone or loyalty id that cannot be normalised; `field` names the parameter."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


async def get_live_customer(*, db_session: AsyncSession, customer_id: str) -> str | None:
    """The live id the customer goes by now (after merges); None when unknown or erased."""
    try:
        return await store.get_live_customer_id(db_session=db_session, customer_id=customer_id)
    except (store.UnknownCustomer, store.ErasedCustomer):
        return None


async def get_customer_by_identifier(
    *,
    db_session: AsyncSession,
    kind: IdentifierKind,
    raw: str,
    hmac_key: bytes,
    default_region: str,
) -> str | None:
    """The live customer holding this identifier, or None; BadIdentifier when malformed."""
    try:
        identifier = store.make_identifier(
            kind, raw, hmac_key=hmac_key, default_region=default_region
        )
    except InvalidIdentifier as exc:
        raise BadIdentifier(kind, str(exc)) from exc
    owner = await store.get_customer_id(
        db_session=db_session, kind=identifier.kind, digest=identifier.digest
    )
    if owner is None:
        return None
    return await get_live_customer(db_session=db_session, customer_id=owner)
