"""The identity read API: which live customer an identifier or a customer id names now.

Other packages read the identity tables only through here (`store` alone writes them):
look-ups normalise and key an identifier exactly as ingest does, then follow merges.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.events.payloads import IdentifierKind
from touchpoint_common.identity import pii, store


class BadIdentifier(pii.InvalidIdentifier):
    """A raw identifier that cannot be normalised; `field` names it, `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


async def find_live_customer_id(*, db_session: AsyncSession, customer_id: str) -> str | None:
    """The id this customer goes by now (following merges); None when unknown or erased."""
    try:
        return await store.get_live_customer_id(db_session=db_session, customer_id=customer_id)
    except (store.UnknownCustomer, store.ErasedCustomer):
        return None


async def find_customer_by_identifier(
    *,
    db_session: AsyncSession,
    kind: IdentifierKind,
    raw: str,
    hmac_key: bytes | pii.KeyRing,
    default_region: str,
) -> str | None:
    """The live customer holding this raw identifier, or None; BadIdentifier when malformed."""
    try:
        identifier = store.make_identifier(
            kind, raw, hmac_key=hmac_key, default_region=default_region
        )
    except pii.InvalidIdentifier as exc:
        raise BadIdentifier(kind, str(exc)) from exc
    owner = await store.get_identifier_owner(db_session=db_session, identifier=identifier)
    if owner is None:
        return None
    return await find_live_customer_id(db_session=db_session, customer_id=owner)


async def get_identifiers(
    *, db_session: AsyncSession, customer_id: str, kek: pii.KeyRing
) -> list[tuple[IdentifierKind, str]]:
    """(kind, value) of the customer's identifiers, opened with its key (personal data: only
    for the audited private read); none once its key is shredded. One statement: the key row
    joined to the sealed identifiers (a customer without identifiers gives one row of NULLs)."""
    keys = store.customer_keys
    table = store.customer_identifiers
    query = (
        select(keys.c.wrapped_key, keys.c.kek_id, table.c.kind, table.c.sealed)
        .select_from(
            keys.outerjoin(
                table,
                and_(table.c.customer_id == keys.c.customer_id, table.c.sealed.is_not(None)),
            )
        )
        .where(keys.c.customer_id == customer_id)
        .order_by(table.c.kind, table.c.digest)
    )
    rows = (await db_session.execute(query)).all()
    if not rows:
        return []
    data_key = store.open_data_key(
        rows[0].wrapped_key, rows[0].kek_id, kek=kek, customer_id=customer_id
    )
    return [
        (row.kind, pii.open_sealed(row.sealed, data_key=data_key, context=row.kind))
        for row in rows
        if row.sealed is not None
    ]


async def get_masked_identifiers(
    *, db_session: AsyncSession, customer_id: str, kek: pii.KeyRing
) -> list[tuple[IdentifierKind, str]]:
    """(kind, masked value) of the customer's identifiers; none once its key is shredded."""
    opened = await get_identifiers(db_session=db_session, customer_id=customer_id, kek=kek)
    return [(kind, pii.mask_identifier(kind, value)) for kind, value in opened]


async def get_data_keys(
    *, db_session: AsyncSession, customer_ids: Iterable[str], kek: pii.KeyRing
) -> dict[str, bytes]:
    """customer_id -> data key of those whose key still exists (shredded ones are absent)."""
    keys: dict[str, bytes] = {}
    for customer_id in sorted(set(customer_ids)):
        data_key = await store.get_data_key(db_session=db_session, customer_id=customer_id, kek=kek)
        if data_key is not None:
            keys[customer_id] = data_key
    return keys
