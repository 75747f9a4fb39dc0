"""Keys (create, list, rotate, revoke, verify), the in-memory key cache, event rules, audit.

A token is `tp_<key_id>_<secret>`: the key id finds the row, the sha256 of the secret (a
256-bit random value, so a plain hash is enough) must match. Functions never commit unless
they say so: the caller owns the transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.access.models import (
    AuditEntryOut,
    KeyCreated,
    KeyIn,
    KeyOut,
    Principal,
    Scope,
    api_keys,
    audit_log,
)

TOKEN_PREFIX = "tp"  # noqa: S105 (a prefix, not a secret)
# Event types that need a scope beyond events:write (the rest need events:write itself).
EVENT_TYPE_SCOPES: Mapping[str, Scope] = {
    "identify": Scope.IDENTITY_LINK,
    "unmerge": Scope.IDENTITY_LINK,
    "erase": Scope.EVENTS_ERASE,
    "offer_response": Scope.OFFERS_RESPOND,
}
EVENT_POSTING_SCOPES: tuple[Scope, ...] = (
    Scope.EVENTS_WRITE,
    Scope.IDENTITY_LINK,
    Scope.EVENTS_ERASE,
    Scope.OFFERS_RESPOND,
)


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed token, None otherwise."""
    parts = token.split("_")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def _new_secret() -> str:
    return secrets.token_urlsafe(32).replace("_", "-")


def _key_out(row: RowMapping) -> KeyOut:
    return KeyOut(
        key_id=row["key_id"],
        name=row["name"],
        scopes=list(row["scopes"]),
        store_ids=row["store_ids"],
        event_types=row["event_types"],
        rate_per_second=row["rate_per_second"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


async def create_key(*, db_session: AsyncSession, key: KeyIn) -> KeyCreated:
    """Store a new key (hashed) and return it with its token, the only time it is shown."""
    key_id, secret = secrets.token_hex(8), _new_secret()
    row = (
        (
            await db_session.execute(
                insert(api_keys)
                .values(
                    key_id=key_id,
                    name=key.name,
                    secret_sha256=hash_secret(secret),
                    scopes=sorted(str(scope) for scope in key.scopes),
                    store_ids=key.store_ids,
                    event_types=key.event_types,
                    rate_per_second=key.rate_per_second,
                )
                .returning(api_keys)
            )
        )
        .mappings()
        .one()
    )
    return KeyCreated(**_key_out(row).model_dump(), token=f"{TOKEN_PREFIX}_{key_id}_{secret}")


async def list_keys(*, db_session: AsyncSession, include_revoked: bool = False) -> list[KeyOut]:
    """Every key (never a secret), oldest first."""
    query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at.is_(None))
    rows = (await db_session.execute(query)).mappings().all()
    return [_key_out(row) for row in rows]


async def revoke_key(*, db_session: AsyncSession, key_id: str) -> bool:
    """Mark a key revoked; False when there is no such live key."""
    result = await db_session.execute(
        update(api_keys)
        .where(and_(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None)))
        .values(revoked_at=func.now())
        .returning(api_keys.c.key_id)
    )
    return result.first() is not None


async def _live_key(db_session: AsyncSession, key_id: str) -> RowMapping | None:
    """The row of a key that is not revoked."""
    result = await db_session.execute(
        select(api_keys).where(and_(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None)))
    )
    return result.mappings().first()


async def rotate_key(*, db_session: AsyncSession, key_id: str) -> KeyCreated | None:
    """A new key with the same name, scopes and bindings; the old one is revoked. None: no key."""
    row = await _live_key(db_session, key_id)
    if row is None:
        return None
    created = await create_key(
        db_session=db_session,
        key=KeyIn(
            name=row["name"],
            scopes=[Scope(scope) for scope in row["scopes"]],
            store_ids=row["store_ids"],
            event_types=row["event_types"],
            rate_per_second=row["rate_per_second"],
        ),
    )
    await revoke_key(db_session=db_session, key_id=key_id)
    return created


async def find_principal(*, db_session: AsyncSession, token: str) -> Principal | None:
    """The live key a token names, None when unknown, revoked or the secret does not match."""
    parsed = split_token(token)
    if parsed is None:
        return None
    key_id, secret = parsed
    row = await _live_key(db_session, key_id)
    if row is None or not hmac.compare_digest(row["secret_sha256"], hash_secret(secret)):
        return None
    return Principal(
        key_id=row["key_id"],
        name=row["name"],
        scopes=frozenset(row["scopes"]),
        store_ids=frozenset(row["store_ids"]) if row["store_ids"] else None,
        event_types=frozenset(row["event_types"]) if row["event_types"] else None,
        rate_per_second=row["rate_per_second"],
    )


class KeyCache:
    """Checked tokens remembered for `ttl_s` seconds (misses too), so most requests skip the DB."""

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        self._checking: dict[str, asyncio.Future[Principal | None]] = {}
        """Tokens being checked now: concurrent misses share one query, not one each."""

    def get(self, token: str) -> tuple[bool, Principal | None]:
        """(hit, principal); a hit with None is a token known to be invalid."""
        entry = self._entries.get(token)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, token: str, principal: Principal | None) -> None:
        """Remember a check until the TTL passes."""
        if len(self._entries) >= self.max_entries:
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[token] = (time.monotonic() + self.ttl_s, principal)

    async def resolve(
        self, token: str, sessions: async_sessionmaker[AsyncSession]
    ) -> Principal | None:
        """The token's principal: from memory, or one DB query on a miss (shared by the
        requests that miss at the same time)."""
        hit, principal = self.get(token)
        if hit:
            return principal
        checking = self._checking.get(token)
        if checking is None:
            checking = asyncio.ensure_future(self._check(token, sessions))
            self._checking[token] = checking
            checking.add_done_callback(partial(self._checked, token))
        # One requester hanging up does not cancel the check the others wait for.
        return await asyncio.shield(checking)

    async def _check(
        self, token: str, sessions: async_sessionmaker[AsyncSession]
    ) -> Principal | None:
        """One DB query for the token, remembered."""
        async with sessions() as db_session:
            principal = await find_principal(db_session=db_session, token=token)
        self.put(token, principal)
        return principal

    def _checked(self, token: str, checking: asyncio.Future[Principal | None]) -> None:
        """The check is over: the next miss queries again (its error counts as seen)."""
        self._checking.pop(token, None)
        if not checking.cancelled():
            checking.exception()


def missing_scope(principal: Principal, needed: Sequence[Scope]) -> Scope | None:
    """None when the key holds any of `needed`, else the first of them (named in the 403)."""
    if any(str(scope) in principal.scopes for scope in needed):
        return None
    return needed[0]


def event_refusal(principal: Principal, raw: object) -> str | None:
    """Why this key may not post this (raw JSON) event, None when it may."""
    if not isinstance(raw, dict):
        return None
    kind = raw.get("type")
    needed = EVENT_TYPE_SCOPES.get(kind, Scope.EVENTS_WRITE) if isinstance(kind, str) else None
    if needed is not None and str(needed) not in principal.scopes:
        return f"missing scope {needed} (needed for {kind} events)"
    if principal.event_types is not None and kind not in principal.event_types:
        return f"this key may not post {kind} events"
    if principal.store_ids is not None and raw.get("store_id") not in principal.store_ids:
        return "this key may only post events of its own stores"
    return None


@dataclass(frozen=True, slots=True)
class AuditRow:
    """Who read which customer's fields, and how (ids and field names only, never values)."""

    key_id: str
    customer_id: str | None
    action: str
    fields: tuple[str, ...]


async def record_audit_rows(*, db_session: AsyncSession, rows: Sequence[AuditRow]) -> None:
    """Append audit rows in one multi-row insert."""
    if rows:
        await db_session.execute(
            insert(audit_log),
            [
                {
                    "key_id": row.key_id,
                    "customer_id": row.customer_id,
                    "action": row.action,
                    "fields": list(row.fields),
                }
                for row in rows
            ],
        )


async def query_audit(
    *,
    db_session: AsyncSession,
    customer_id: str | None = None,
    key_id: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[AuditEntryOut]:
    """Audit entries, newest first, filtered by customer, key and time."""
    query = select(audit_log).order_by(audit_log.c.audit_id.desc()).limit(limit)
    if customer_id is not None:
        query = query.where(audit_log.c.customer_id == customer_id)
    if key_id is not None:
        query = query.where(audit_log.c.key_id == key_id)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    rows = (await db_session.execute(query)).mappings().all()
    return [AuditEntryOut(**dict(row)) for row in rows]
