"""Identity resolution in PostgreSQL: identifier digests to customers, keys, merges, erasure.

This module alone writes the identity tables (customers, customer_identifiers, customer_keys,
customer_merges);
other packages read them through `touchpoint_common.identity.lookup`.

Race safety: a new customer is minted inside a savepoint together with its identifiers, which
are inserted with ON CONFLICT DO NOTHING in one sorted statement. When any of them was taken by
a concurrent transaction the savepoint is rolled back (the minted customer vanishes) and the
look-up runs again, now seeing the winner. The (kind, digest) primary key is what makes two
replicas unable to mint two customers for one identifier. Linking an identifier to an
existing customer locks that customer's row first, as erase and merges do: an erase never
leaves an identifier behind, and a pass that waited for one sees the customer erased and
resolves again (or refuses the event naming it). Functions never commit: the caller
owns the transaction and calls `IdentityCache.remember` only after its commit.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from cachetools import TTLCache
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    Table,
    Text,
    Uuid,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.events.payloads import IdentifierKind
from touchpoint_common.identity import pii
from touchpoint_common.identity.merges import MergeChainBroken, follow_merges_async

metadata = MetaData()
customers = Table(
    "customers",
    metadata,
    Column("customer_id", Text, primary_key=True),
    Column("created_at", DateTime(timezone=True)),
    Column("erased_at", DateTime(timezone=True)),
    Column("merged_into", Text),
)
customer_identifiers = Table(
    "customer_identifiers",
    metadata,
    Column("kind", Text, primary_key=True),
    Column("digest", Text, primary_key=True),
    Column("customer_id", Text),
    Column("sealed", Text),
    Column("hmac_key_id", Text, nullable=False),
)
customer_keys = Table(
    "customer_keys",
    metadata,
    Column("customer_id", Text, primary_key=True),
    Column("wrapped_key", LargeBinary),
    Column("kek_id", Text, nullable=False),
)

customer_merges = Table(
    "customer_merges",
    metadata,
    Column("merge_id", BigInteger, primary_key=True),
    Column("survivor_id", Text),
    Column("loser_id", Text),
    Column("event_id", Uuid),
    Column("merged_at", DateTime(timezone=True)),
    Column("identifier_keys", ARRAY(Text)),
    Column("followers", ARRAY(Text)),
    Column("unmerged_at", DateTime(timezone=True)),
    Column("unmerge_event_id", Uuid),
)

_CREATE_CUSTOMER = text(
    "WITH minted AS (INSERT INTO customers (customer_id) VALUES (:customer_id) "
    "RETURNING customer_id) "
    "INSERT INTO customer_keys (customer_id, wrapped_key, kek_id) "
    "SELECT customer_id, :wrapped, :kek_id FROM minted"
)
# When one event's identifiers point at different customers, the strongest one decides.
KIND_PRIORITY: tuple[IdentifierKind, ...] = ("loyalty_id", "phone", "email", "anonymous_id")
_LOCK_IDENTIFIERS = text(
    "SELECT pg_advisory_xact_lock(lock_id) "
    "FROM unnest(CAST(:lock_ids AS bigint[])) WITH ORDINALITY AS wanted(lock_id, position) "
    "ORDER BY position"
)
_REWRITE_MERGE_KEYS = text(
    "WITH wanted AS (SELECT merge_id FROM customer_merges "
    "WHERE identifier_keys && CAST(:olds AS text[]) ORDER BY merge_id FOR UPDATE) "
    "UPDATE customer_merges AS merged SET identifier_keys = ARRAY("
    "SELECT DISTINCT kept.key FROM ("
    "SELECT CASE WHEN renamed.old IS NULL THEN recorded.key ELSE renamed.new END AS key "
    "FROM unnest(merged.identifier_keys) AS recorded(key) "
    "LEFT JOIN unnest(CAST(:olds AS text[]), CAST(:news AS text[])) AS renamed(old, new) "
    "ON renamed.old = recorded.key) AS kept "
    "WHERE kept.key IS NOT NULL ORDER BY kept.key) "
    "FROM wanted WHERE merged.merge_id = wanted.merge_id"
)
# Set-based statements: the same SQL whatever the number of rows (prepared once per
# connection by asyncpg, never recompiled by SQLAlchemy).
_OWNERS_OF = text(
    "SELECT known.kind, known.digest, known.customer_id FROM customer_identifiers AS known "
    "JOIN unnest(CAST(:kinds AS text[]), CAST(:digests AS text[])) AS wanted(kind, digest) "
    "ON known.kind = wanted.kind AND known.digest = wanted.digest"
)
_KEYS_OF = text(
    "SELECT customer_id, wrapped_key, kek_id FROM customer_keys "
    "WHERE customer_id = ANY(CAST(:customer_ids AS text[]))"
)
_INSERT_IDENTIFIERS = text(
    "INSERT INTO customer_identifiers (kind, digest, customer_id, sealed, hmac_key_id) "
    "SELECT new.kind, new.digest, :customer_id, new.sealed, new.hmac_key_id "
    "FROM unnest(CAST(:kinds AS text[]), CAST(:digests AS text[]), CAST(:sealed AS text[]), "
    "CAST(:hmac_key_ids AS text[])) AS new(kind, digest, sealed, hmac_key_id) "
    "ORDER BY new.kind, new.digest "
    "ON CONFLICT (kind, digest) DO NOTHING RETURNING kind, digest"
)
_LOCK_LIVE_CUSTOMERS = text(
    "SELECT customer_id FROM customers WHERE customer_id = ANY(CAST(:customer_ids AS text[])) "
    "AND erased_at IS NULL AND merged_into IS NULL ORDER BY customer_id FOR SHARE"
)
_CREATE_CUSTOMERS = text(
    "WITH minted AS (INSERT INTO customers (customer_id) "
    "SELECT unnest(CAST(:customer_ids AS text[])) RETURNING customer_id) "
    "INSERT INTO customer_keys (customer_id, wrapped_key, kek_id) "
    "SELECT new.customer_id, new.wrapped_key, :kek_id "
    "FROM unnest(CAST(:customer_ids AS text[]), CAST(:wrapped_keys AS bytea[])) "
    "AS new(customer_id, wrapped_key) JOIN minted USING (customer_id)"
)
_INSERT_OWNED_IDENTIFIERS = text(
    "INSERT INTO customer_identifiers (kind, digest, customer_id, sealed, hmac_key_id) "
    "SELECT * FROM unnest(CAST(:kinds AS text[]), CAST(:digests AS text[]), "
    "CAST(:customer_ids AS text[]), CAST(:sealed AS text[]), CAST(:hmac_key_ids AS text[])) "
    "AS new(kind, digest, customer_id, sealed, hmac_key_id) ORDER BY new.kind, new.digest "
    "ON CONFLICT (kind, digest) DO NOTHING RETURNING kind, digest"
)
_MAX_ATTEMPTS = 5
DigestKey = tuple[str, str]


class IdentityRefusal(LookupError):
    """An event the identity rules refuse (the subclasses say why)."""


class UnknownCustomer(IdentityRefusal):
    """No customer has this id (or, when minting is off, these identifiers)."""


class ErasedCustomer(IdentityRefusal):
    """The customer asked to be forgotten; events naming it directly are refused."""


class NotMerged(IdentityRefusal):
    """An unmerge names a customer that is not (or no longer) merged into the event's customer."""


class LinkNotPermitted(IdentityRefusal):
    """The event would move an identifier between customers (link, merge or unmerge) and its
    sender lacks `identity:link`."""


@dataclass(frozen=True, slots=True)
class Identifier:
    """A normalised identifier with its HMAC digest; `value` is personal data."""

    kind: IdentifierKind
    value: str
    digest: str
    key_id: str = pii.DEFAULT_KEY_ID
    """The id of the HMAC key `digest` was made with (the current one)."""
    older: tuple[tuple[str, str], ...] = ()
    """(key id, digest) under each older HMAC key: looked up while a rotation is under way."""

    @property
    def key(self) -> DigestKey:
        """The (kind, digest) primary key of customer_identifiers."""
        return (self.kind, self.digest)


@dataclass(frozen=True, slots=True)
class ResolvedCustomer:
    """Where an event lands: the live customer, its data key, and what changed to get there."""

    customer_id: str
    data_key: bytes
    created: bool = False
    merged_customer_ids: tuple[str, ...] = ()
    owned: tuple[DigestKey, ...] = field(default=())
    """Identifier keys that now belong to this customer (safe to cache after commit)."""
    unmerged_followers: tuple[str, ...] = ()
    """unmerge: the customers once merged into the restored one, which follow it again."""


class IdentityCache:
    """Bounded in-process TTL caches: digest to customer_id, customer_id to data key.

    Entries expire after `ttl_s`, which bounds how long another replica's merge or erasure
    can go unnoticed here; this replica evicts what it changes itself.
    """

    def __init__(self, *, maxsize: int = 100_000, ttl_s: float = 60.0) -> None:
        self.owners: MutableMapping[DigestKey, str] = TTLCache(maxsize=maxsize, ttl=ttl_s)
        self.keys: MutableMapping[str, bytes] = TTLCache(maxsize=maxsize, ttl=ttl_s)
        self._digests: MutableMapping[str, set[DigestKey]] = TTLCache(maxsize=maxsize, ttl=ttl_s)

    def remember(self, resolved: ResolvedCustomer) -> None:
        """Cache a committed resolution."""
        for merged in resolved.merged_customer_ids:
            self.forget_customer(merged)
        digests = self._digests.get(resolved.customer_id) or set()
        for key in resolved.owned:
            self.owners[key] = resolved.customer_id
            digests.add(key)
        self._digests[resolved.customer_id] = digests
        self.keys[resolved.customer_id] = resolved.data_key

    def forget_customer(self, customer_id: str) -> None:
        """Evict a customer and every digest pointing at it (after erase or merge)."""
        self.keys.pop(customer_id, None)
        for key in self._digests.pop(customer_id, set()):
            if self.owners.get(key) == customer_id:
                self.owners.pop(key, None)


class PassCache(IdentityCache):
    """Owners and data keys one transaction read for its whole pass, over the shared cache.

    Built by `get_pass_cache` after the pass locked its identifiers; it lives for that pass
    only, and what it forgets (merged, erased) the shared cache forgets too.
    """

    def __init__(self, shared: IdentityCache | None) -> None:
        # Plain dicts: one pass neither expires nor overflows (TTLCache costs per entry).
        self.owners = {}
        self.keys = {}
        self._digests = {}
        self.shared = shared

    def forget_customer(self, customer_id: str) -> None:
        """Evict a customer here and in the shared cache."""
        super().forget_customer(customer_id)
        if self.shared is not None:
            self.shared.forget_customer(customer_id)


async def get_pass_cache(
    *,
    db_session: AsyncSession,
    identifiers: Iterable[Identifier],
    kek: pii.KeyRing,
    cache: IdentityCache | None,
) -> PassCache:
    """The owners of these identifiers and their data keys, from the shared cache or read in
    two statements at most, so resolving a pass of known customers costs no round trip each."""
    found = PassCache(cache)
    owners = await _get_current_owners(db_session, identifiers, cache)
    keys: dict[str, bytes] = {}
    unknown_keys: set[str] = set()
    for customer_id in set(owners.values()):
        data_key = cache.keys.get(customer_id) if cache is not None else None
        if data_key is None:
            unknown_keys.add(customer_id)
        else:
            keys[customer_id] = data_key
    keys.update(await _read_data_keys(db_session, unknown_keys, kek))
    owned: dict[str, list[DigestKey]] = {}
    for digest_key, owner in owners.items():
        owned.setdefault(owner, []).append(digest_key)
    for owner, data_key in keys.items():
        found.remember(ResolvedCustomer(owner, data_key, owned=tuple(owned[owner])))
    return found


async def _read_owners(db_session: AsyncSession, keys: Iterable[DigestKey]) -> dict[DigestKey, str]:
    """The customers owning these identifier keys (absent ones are left out), one statement."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = await db_session.execute(
        _OWNERS_OF,
        {"kinds": [kind for kind, _ in wanted], "digests": [digest for _, digest in wanted]},
    )
    return {(row.kind, row.digest): row.customer_id for row in rows}


async def _read_data_keys(
    db_session: AsyncSession, customer_ids: Iterable[str], kek: pii.KeyRing
) -> dict[str, bytes]:
    """The unwrapped data keys of these customers (shredded ones are left out), one statement."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return {}
    rows = await db_session.execute(_KEYS_OF, {"customer_ids": wanted})
    return {
        row.customer_id: pii.unwrap_key(
            bytes(row.wrapped_key), kek=kek.get(row.kek_id), customer_id=row.customer_id
        )
        for row in rows
    }


@dataclass
class ResolutionPlan:
    """What resolving many identifier-only events needs written, and what each resolves to."""

    resolved: list[ResolvedCustomer] = field(default_factory=list)
    minted: dict[str, bytes] = field(default_factory=dict)
    """New customer_id -> its data key."""
    linked: list[tuple[Identifier, str]] = field(default_factory=list)
    """Identifiers nobody owns yet, with the customer they go to."""
    to_lock: set[str] = field(default_factory=set)
    """Existing customers receiving identifiers (they must still be live)."""


def plan_resolutions(
    identifier_sets: Sequence[Sequence[Identifier]], *, cache: IdentityCache
) -> ResolutionPlan | None:
    """`resolve_customer`'s rules for events naming only identifiers, applied in order over the
    owners `cache` knows (the pass's own links and mints included); None when an owner's data
    key is not known (the caller resolves one by one)."""
    plan = ResolutionPlan()
    planned: dict[DigestKey, str] = {}
    for identifiers in identifier_sets:
        owners: dict[DigestKey, str] = {}
        for ident in identifiers:
            owner = planned.get(ident.key) or cache.owners.get(ident.key)
            if owner is not None:
                owners[ident.key] = owner
        chosen = _pick_owner(identifiers, owners)
        created = chosen is None
        if chosen is None:
            chosen = str(uuid.uuid4())
            plan.minted[chosen] = pii.new_data_key()
        data_key = plan.minted.get(chosen) or cache.keys.get(chosen)
        if data_key is None:
            return None
        unclaimed = {ident.key: ident for ident in identifiers if ident.key not in owners}
        for key, ident in sorted(unclaimed.items()):
            planned[key] = chosen
            plan.linked.append((ident, chosen))
        if unclaimed and chosen not in plan.minted:
            plan.to_lock.add(chosen)
        mine = [key for key, owner in owners.items() if owner == chosen]
        plan.resolved.append(
            ResolvedCustomer(chosen, data_key, created=created, owned=(*mine, *unclaimed))
        )
    return plan


async def resolve_customers(
    *,
    db_session: AsyncSession,
    identifier_sets: Sequence[Sequence[Identifier]],
    kek: pii.KeyRing,
    cache: IdentityCache,
) -> list[ResolvedCustomer] | None:
    """`resolve_customer` for many events that name only current-key identifiers (no customer
    id, no link), in one savepoint of at most three statements: known owners decide (from
    `cache`, e.g. a `PassCache`), unknown identifiers join the chosen customer, and events none
    of whose identifiers is known mint one. None, with nothing written, when anything is
    unusual (a customer erased or merged meanwhile, an identifier taken by another writer):
    the caller then resolves those events one by one. The caller holds the identifiers'
    advisory locks (`lock_identifiers`)."""
    plan = plan_resolutions(identifier_sets, cache=cache)
    if plan is None:
        return None
    if not plan.linked:
        return plan.resolved
    savepoint = await db_session.begin_nested()
    if plan.to_lock:
        wanted = sorted(plan.to_lock)
        live = await db_session.execute(_LOCK_LIVE_CUSTOMERS, {"customer_ids": wanted})
        if len(live.all()) < len(wanted):
            await savepoint.rollback()
            return None
    if plan.minted:
        minted = sorted(plan.minted.items())
        await db_session.execute(
            _CREATE_CUSTOMERS,
            {
                "customer_ids": [customer_id for customer_id, _ in minted],
                "wrapped_keys": [
                    pii.wrap_key(data_key, kek=kek.current, customer_id=customer_id)
                    for customer_id, data_key in minted
                ],
                "kek_id": kek.current_id,
            },
        )
    keys = {**plan.minted, **{r.customer_id: r.data_key for r in plan.resolved}}
    inserted = await db_session.execute(
        _INSERT_OWNED_IDENTIFIERS,
        {
            "kinds": [ident.kind for ident, _ in plan.linked],
            "digests": [ident.digest for ident, _ in plan.linked],
            "customer_ids": [owner for _, owner in plan.linked],
            "sealed": [
                pii.seal(ident.value, data_key=keys[owner], context=ident.kind)
                for ident, owner in plan.linked
            ],
            "hmac_key_ids": [ident.key_id for ident, _ in plan.linked],
        },
    )
    if len(inserted.all()) < len(plan.linked):
        await savepoint.rollback()
        return None
    await savepoint.commit()
    return plan.resolved


def merge_key(kind: str, digest: str) -> str:
    """How customer_merges.identifier_keys names an identifier: "kind:digest"."""
    return f"{kind}:{digest}"


async def _rewrite_merge_keys(
    db_session: AsyncSession, renames: Mapping[DigestKey, DigestKey | None]
) -> None:
    """Keep merge records naming identifiers by their rows' keys: a re-digested identifier
    (rotation, dual-read) is renamed, a deleted one (erase, value None) dropped, in the same
    transaction, so an unmerge after a rotation finds what the loser owned and an erase leaves
    no digest behind. Records are locked in merge_id order (no deadlock between rewriters)."""
    if not renames:
        return
    pairs = sorted(
        (merge_key(*old), None if new is None else merge_key(*new)) for old, new in renames.items()
    )
    await db_session.execute(
        _REWRITE_MERGE_KEYS,
        {"olds": [old for old, _ in pairs], "news": [new for _, new in pairs]},
    )


def make_identifier(
    kind: IdentifierKind, raw: str, *, hmac_key: bytes | pii.KeyRing, default_region: str
) -> Identifier:
    """Normalise and digest one identifier (raises pii.InvalidIdentifier); with a key ring,
    also under each older HMAC key so a rotation under way loses no one."""
    value = pii.normalize_identifier(kind, raw, default_region=default_region)
    if isinstance(hmac_key, bytes):
        return Identifier(
            kind=kind, value=value, digest=pii.digest_identifier(kind, value, key=hmac_key)
        )
    return Identifier(
        kind=kind,
        value=value,
        digest=pii.digest_identifier(kind, value, key=hmac_key.current),
        key_id=hmac_key.current_id,
        older=pii.older_digests(kind, value, older_keys=hmac_key.older),
    )


async def lock_identifiers(*, db_session: AsyncSession, keys: Iterable[DigestKey]) -> None:
    """Lock identifier keys until commit, in one global order (no deadlock between lockers).

    A caller resolving several events in one transaction takes them all first: it then
    touches their rows in whatever order its events need, and racers wait instead of crossing.
    """
    lock_ids = sorted({_lock_id(key) for key in keys})
    if lock_ids:
        await db_session.execute(_LOCK_IDENTIFIERS, {"lock_ids": lock_ids})


def _lock_id(key: DigestKey) -> int:
    """A signed 64-bit advisory lock id for an identifier key (a collision only serialises)."""
    kind, digest = key
    hashed = hashlib.blake2b(f"identifier:{kind}:{digest}".encode(), digest_size=8).digest()
    return int.from_bytes(hashed, "big", signed=True)


async def get_customer_id(*, db_session: AsyncSession, kind: str, digest: str) -> str | None:
    """The customer an identifier digest belongs to, or None."""
    query = select(customer_identifiers.c.customer_id).where(
        customer_identifiers.c.kind == kind, customer_identifiers.c.digest == digest
    )
    return (await db_session.execute(query)).scalar_one_or_none()


async def get_identifier_owner(*, db_session: AsyncSession, identifier: Identifier) -> str | None:
    """The customer holding an identifier: its current digest first, then older ones."""
    for digest in (identifier.digest, *(older for _, older in identifier.older)):
        owner = await get_customer_id(db_session=db_session, kind=identifier.kind, digest=digest)
        if owner is not None:
            return owner
    return None


async def get_live_customer_id(*, db_session: AsyncSession, customer_id: str) -> str:
    """The customer an id names now, following merges; raises UnknownCustomer/ErasedCustomer."""

    async def merged_into(current: str) -> str | None:
        query = select(customers.c.erased_at, customers.c.merged_into).where(
            customers.c.customer_id == current
        )
        row = (await db_session.execute(query)).one_or_none()
        if row is None:
            raise UnknownCustomer(customer_id)
        if row.erased_at is not None:
            raise ErasedCustomer(customer_id)
        return cast(str | None, row.merged_into)

    try:
        return await follow_merges_async(customer_id, merged_into)
    except MergeChainBroken as exc:
        raise UnknownCustomer(customer_id) from exc


async def get_data_key(
    *, db_session: AsyncSession, customer_id: str, kek: pii.KeyRing
) -> bytes | None:
    """The customer's unwrapped data key; None once shredded (erased) or never created."""
    query = select(customer_keys.c.wrapped_key, customer_keys.c.kek_id).where(
        customer_keys.c.customer_id == customer_id
    )
    row = (await db_session.execute(query)).one_or_none()
    if row is None:
        return None
    return open_data_key(row.wrapped_key, row.kek_id, kek=kek, customer_id=customer_id)


def open_data_key(wrapped_key: bytes, kek_id: str, *, kek: pii.KeyRing, customer_id: str) -> bytes:
    """A customer_keys row's data key, unwrapped with the KEK it names."""
    return pii.unwrap_key(bytes(wrapped_key), kek=kek.get(kek_id), customer_id=customer_id)


async def create_customer(*, db_session: AsyncSession, kek: pii.KeyRing) -> tuple[str, bytes]:
    """Mint a customer with its own wrapped data key; returns (customer_id, data_key)."""
    customer_id = str(uuid.uuid4())
    data_key = pii.new_data_key()
    wrapped = pii.wrap_key(data_key, kek=kek.current, customer_id=customer_id)
    await db_session.execute(
        _CREATE_CUSTOMER, {"customer_id": customer_id, "wrapped": wrapped, "kek_id": kek.current_id}
    )
    return customer_id, data_key


async def resolve_customer(
    *,
    db_session: AsyncSession,
    identifiers: Sequence[Identifier],
    customer_id: str | None = None,
    kek: pii.KeyRing,
    cache: IdentityCache | None = None,
    mint: bool = True,
) -> ResolvedCustomer:
    """The customer named by customer_id or the identifiers; unclaimed identifiers are linked."""
    named = None
    if customer_id is not None:
        named = await get_live_customer_id(db_session=db_session, customer_id=customer_id)
    for _ in range(_MAX_ATTEMPTS):
        owners = await _get_owners(db_session, identifiers, cache)
        chosen = named or _pick_owner(identifiers, owners)
        if chosen is None:
            if not mint:
                raise UnknownCustomer("no customer is known by these identifiers")
            minted = await _mint_with(db_session, identifiers, kek)
            if minted is not None:
                return minted
            continue
        data_key = await _get_cached_key(db_session, chosen, kek, cache)
        if data_key is None:  # erased meanwhile: its identifiers are gone too, so look again
            if cache is not None:
                cache.forget_customer(chosen)
            if named is not None:
                raise ErasedCustomer(chosen)
            continue
        unclaimed = [ident for ident in identifiers if ident.key not in owners]
        if unclaimed and not await _lock_live_customer(db_session, chosen):
            if cache is not None:  # erased or merged meanwhile: resolve again
                cache.forget_customer(chosen)
            if named is not None:  # ErasedCustomer when it was erased
                named = await get_live_customer_id(db_session=db_session, customer_id=named)
            continue
        linked = await _insert_identifiers(db_session, unclaimed, chosen, data_key)
        mine = [key for key, owner in owners.items() if owner == chosen]
        return ResolvedCustomer(chosen, data_key, owned=tuple(mine + linked))
    raise UnknownCustomer("identity resolution kept losing races; retry")


async def link_identifiers(
    *,
    db_session: AsyncSession,
    resolved: ResolvedCustomer,
    identifiers: Sequence[Identifier],
    customer_id: str | None = None,
    kek: pii.KeyRing,
    event_id: uuid.UUID | None = None,
) -> ResolvedCustomer:
    """`identify`: attach identifiers to a customer, merging any customer that already owns one
    (each merge recorded in customer_merges under `event_id`)."""
    current, data_key = resolved.customer_id, resolved.data_key
    merged: set[str] = set()
    for _ in range(_MAX_ATTEMPTS):
        others = await _get_owning_customers(db_session, identifiers, customer_id)
        others.discard(current)
        if others:
            outcome = await _merge(db_session, {current, *others}, kek, event_id)
            if outcome is None:  # a concurrent merge moved someone: look again
                current = await get_live_customer_id(db_session=db_session, customer_id=current)
                data_key = await _require_key(db_session, current, kek)
                continue
            current, data_key, losers = outcome
            merged.update(losers)
        owners = await _get_owners(db_session, identifiers, None)
        unclaimed = [ident for ident in identifiers if ident.key not in owners]
        if unclaimed and not await _lock_live_customer(db_session, current):
            # erased (ErasedCustomer) or merged meanwhile: link to whoever it is now
            current = await get_live_customer_id(db_session=db_session, customer_id=current)
            data_key = await _require_key(db_session, current, kek)
            continue
        linked = await _insert_identifiers(db_session, unclaimed, current, data_key)
        if len(linked) == len({ident.key for ident in unclaimed}):
            owned = {*resolved.owned, *(ident.key for ident in identifiers)}
            merged.discard(current)
            return ResolvedCustomer(
                current, data_key, resolved.created, tuple(sorted(merged)), tuple(sorted(owned))
            )
    raise UnknownCustomer("identity linking kept losing races; retry")


async def get_owning_customers(
    *, db_session: AsyncSession, identifiers: Sequence[Identifier], customer_ids: Iterable[str]
) -> set[str]:
    """The live customers owning any of the identifiers or named by customer_ids."""
    owners = set((await _get_owners(db_session, identifiers, None)).values())
    for customer_id in customer_ids:
        owners.add(await get_live_customer_id(db_session=db_session, customer_id=customer_id))
    return owners


async def erase_customer(*, db_session: AsyncSession, customer_id: str) -> list[str]:
    """Forget a customer and those merged into it: identifiers and keys deleted (and their
    digests dropped from merge records), erased_at set.

    Their customers rows are locked first, as identifier inserts lock them: an ingest pass
    linking an identifier either commits before (and its row is deleted here) or waits and
    then sees the customer erased.
    """
    query = (
        select(customers.c.customer_id)
        .where(or_(customers.c.customer_id == customer_id, customers.c.merged_into == customer_id))
        .order_by(customers.c.customer_id)
        .with_for_update()
    )
    ids: list[str] = list((await db_session.execute(query)).scalars())
    if not ids:
        return []
    table = customer_identifiers.c
    deleted = await db_session.execute(
        delete(customer_identifiers)
        .where(table.customer_id.in_(ids))
        .returning(table.kind, table.digest)
    )
    await _rewrite_merge_keys(db_session, {(row.kind, row.digest): None for row in deleted})
    await db_session.execute(delete(customer_keys).where(customer_keys.c.customer_id.in_(ids)))
    await db_session.execute(
        update(customers)
        .where(customers.c.customer_id.in_(ids), customers.c.erased_at.is_(None))
        .values(erased_at=func.now())
    )
    return ids


async def _lock_live_customer(db_session: AsyncSession, customer_id: str) -> bool:
    """Share-lock the customer's row until commit before linking identifiers to it; False
    when it is erased or merged by now: nothing may be linked to it.

    Erase and merges lock the row FOR UPDATE, so they wait for a linking pass or it for them;
    linking passes share the lock, so two passes linking to customers in crossed order do
    not deadlock.
    """
    query = (
        select(customers.c.erased_at, customers.c.merged_into)
        .where(customers.c.customer_id == customer_id)
        .with_for_update(read=True)
    )
    row = (await db_session.execute(query)).one_or_none()
    return row is not None and row.erased_at is None and row.merged_into is None


async def _get_current_owners(
    db_session: AsyncSession, identifiers: Iterable[Identifier], cache: IdentityCache | None
) -> dict[DigestKey, str]:
    """Owners of the identifiers' current digests: cached, the rest read in one statement."""
    owners: dict[DigestKey, str] = {}
    missing: set[DigestKey] = set()
    for ident in identifiers:
        cached = cache.owners.get(ident.key) if cache is not None else None
        if cached is None:
            missing.add(ident.key)
        else:
            owners[ident.key] = cached
    owners.update(await _read_owners(db_session, missing))
    return owners


async def _get_owners(
    db_session: AsyncSession, identifiers: Sequence[Identifier], cache: IdentityCache | None
) -> dict[DigestKey, str]:
    owners = await _get_current_owners(db_session, identifiers, cache)
    rotating = [ident for ident in identifiers if ident.older and ident.key not in owners]
    if rotating:
        owners.update(await _rekey_older_digests(db_session, rotating))
    return owners


async def _rekey_older_digests(
    db_session: AsyncSession, identifiers: Sequence[Identifier]
) -> dict[DigestKey, str]:
    """Dual-read during an HMAC key rotation: rows found under an older digest are re-keyed
    to the current one on the way (the caller holds the current keys' advisory locks)."""
    table = customer_identifiers.c
    owners: dict[DigestKey, str] = {}
    renames: dict[DigestKey, DigestKey | None] = {}
    for ident in identifiers:
        older = [digest for _, digest in ident.older]
        statement = (
            update(customer_identifiers)
            .where(table.kind == ident.kind, table.digest.in_(older))
            .values(digest=ident.digest, hmac_key_id=ident.key_id)
            .returning(table.customer_id)
        )
        owner = (await db_session.execute(statement)).scalars().first()
        if owner is not None:
            owners[ident.key] = owner
            renames.update({(ident.kind, digest): ident.key for digest in older})
    await _rewrite_merge_keys(db_session, renames)
    return owners


def _pick_owner(identifiers: Sequence[Identifier], owners: dict[DigestKey, str]) -> str | None:
    ranked = sorted(
        (ident for ident in identifiers if ident.key in owners),
        key=lambda ident: KIND_PRIORITY.index(ident.kind) if ident.kind in KIND_PRIORITY else 99,
    )
    return owners[ranked[0].key] if ranked else None


async def _get_cached_key(
    db_session: AsyncSession, customer_id: str, kek: pii.KeyRing, cache: IdentityCache | None
) -> bytes | None:
    if cache is not None and (cached := cache.keys.get(customer_id)) is not None:
        return cached
    return await get_data_key(db_session=db_session, customer_id=customer_id, kek=kek)


async def _mint_with(
    db_session: AsyncSession, identifiers: Sequence[Identifier], kek: pii.KeyRing
) -> ResolvedCustomer | None:
    """A new customer owning all identifiers, or None when a concurrent mint took one first."""
    savepoint = await db_session.begin_nested()
    customer_id, data_key = await create_customer(db_session=db_session, kek=kek)
    linked = await _insert_identifiers(db_session, identifiers, customer_id, data_key)
    if len(linked) < len({ident.key for ident in identifiers}):
        await savepoint.rollback()
        return None
    await savepoint.commit()
    return ResolvedCustomer(customer_id, data_key, created=True, owned=tuple(linked))


async def _insert_identifiers(
    db_session: AsyncSession, identifiers: Iterable[Identifier], customer_id: str, data_key: bytes
) -> list[DigestKey]:
    """Insert in one sorted statement (no deadlocks between racers); returns the rows won."""
    unique = {ident.key: ident for ident in identifiers}
    if not unique:
        return []
    rows = [ident for _, ident in sorted(unique.items())]
    inserted = await db_session.execute(
        _INSERT_IDENTIFIERS,
        {
            "customer_id": customer_id,
            "kinds": [ident.kind for ident in rows],
            "digests": [ident.digest for ident in rows],
            "sealed": [
                pii.seal(ident.value, data_key=data_key, context=ident.kind) for ident in rows
            ],
            "hmac_key_ids": [ident.key_id for ident in rows],
        },
    )
    return [(row.kind, row.digest) for row in inserted]


async def _get_owning_customers(
    db_session: AsyncSession, identifiers: Sequence[Identifier], customer_id: str | None
) -> set[str]:
    owners = set((await _get_owners(db_session, identifiers, None)).values())
    if customer_id is not None:
        owners.add(await get_live_customer_id(db_session=db_session, customer_id=customer_id))
    return owners


async def _require_key(db_session: AsyncSession, customer_id: str, kek: pii.KeyRing) -> bytes:
    data_key = await get_data_key(db_session=db_session, customer_id=customer_id, kek=kek)
    if data_key is None:
        raise ErasedCustomer(customer_id)
    return data_key


async def _merge(
    db_session: AsyncSession,
    customer_ids: set[str],
    kek: pii.KeyRing,
    event_id: uuid.UUID | None,
) -> tuple[str, bytes, tuple[str, ...]] | None:
    """Merge live customers into the oldest one; None when one was merged or erased meanwhile."""
    query = (
        select(
            customers.c.customer_id,
            customers.c.created_at,
            customers.c.merged_into,
            customers.c.erased_at,
        )
        .where(customers.c.customer_id.in_(sorted(customer_ids)))
        .order_by(customers.c.customer_id)
        .with_for_update()
    )
    rows = (await db_session.execute(query)).all()
    if len(rows) != len(customer_ids) or any(
        row.merged_into is not None or row.erased_at is not None for row in rows
    ):
        return None
    winner = min(rows, key=lambda row: (row.created_at, row.customer_id)).customer_id
    winner_key = await _require_key(db_session, winner, kek)
    losers = tuple(sorted(row.customer_id for row in rows if row.customer_id != winner))
    for loser in losers:
        await _record_merge(db_session, winner, loser, event_id)
        await _reseal_identifiers(db_session, loser, winner, winner_key, kek)
    await db_session.execute(
        update(customers)
        .where(or_(customers.c.customer_id.in_(losers), customers.c.merged_into.in_(losers)))
        .values(merged_into=winner)
    )
    return winner, winner_key, losers


async def _record_merge(
    db_session: AsyncSession, survivor: str, loser: str, event_id: uuid.UUID | None
) -> None:
    """A customer_merges row: what the loser owned and who followed it, to undo the merge."""
    table = customer_identifiers.c
    keys = select(table.kind, table.digest).where(table.customer_id == loser)
    identifier_keys = [merge_key(row.kind, row.digest) for row in await db_session.execute(keys)]
    query = select(customers.c.customer_id).where(customers.c.merged_into == loser)
    followers: list[str] = list((await db_session.execute(query)).scalars())
    await db_session.execute(
        insert(customer_merges).values(
            survivor_id=survivor,
            loser_id=loser,
            event_id=event_id,
            merged_at=func.now(),
            identifier_keys=sorted(identifier_keys),
            followers=sorted(followers),
        )
    )


async def unmerge_customer(
    *,
    db_session: AsyncSession,
    survivor_id: str,
    loser_id: str,
    kek: pii.KeyRing,
    event_id: uuid.UUID,
) -> list[str]:
    """Undo the latest merge of `loser_id` into `survivor_id`: the identifiers the loser owned
    then (and still with the survivor) go back to it, resealed with its own key, and the
    customers once merged into the loser follow it again. Identifiers linked after the merge
    stay with the survivor. Returns those followers. Idempotent per event_id; raises NotMerged
    or ErasedCustomer.
    """
    merges = customer_merges.c
    done = select(merges.followers).where(
        merges.unmerge_event_id == event_id, merges.loser_id == loser_id
    )
    if (earlier := (await db_session.execute(done)).first()) is not None:
        return list(earlier.followers)
    locked = (
        select(customers.c.customer_id, customers.c.merged_into, customers.c.erased_at)
        .where(customers.c.customer_id.in_(sorted({survivor_id, loser_id})))
        .order_by(customers.c.customer_id)
        .with_for_update()
    )
    rows = {row.customer_id: row for row in await db_session.execute(locked)}
    loser, survivor = rows.get(loser_id), rows.get(survivor_id)
    if loser is None or survivor is None or loser.merged_into != survivor_id:
        raise NotMerged(loser_id)
    if loser.erased_at is not None or survivor.erased_at is not None:
        raise ErasedCustomer(loser_id)
    latest = (
        select(merges.merge_id, merges.identifier_keys, merges.followers)
        .where(
            merges.loser_id == loser_id,
            merges.survivor_id == survivor_id,
            merges.unmerged_at.is_(None),
        )
        .order_by(merges.merged_at.desc(), merges.merge_id.desc())
        .limit(1)
    )
    record = (await db_session.execute(latest)).one_or_none()
    if record is None:
        raise NotMerged(loser_id)
    survivor_key = await _require_key(db_session, survivor_id, kek)
    loser_key = await _require_key(db_session, loser_id, kek)
    keys = [tuple(key.split(":", 1)) for key in record.identifier_keys]
    await _reseal_identifiers(
        db_session, survivor_id, loser_id, loser_key, kek, only=keys, owner_key=survivor_key
    )
    await db_session.execute(
        update(customers).where(customers.c.customer_id == loser_id).values(merged_into=None)
    )
    if record.followers:
        await db_session.execute(
            update(customers)
            .where(
                customers.c.customer_id.in_(record.followers),
                customers.c.merged_into == survivor_id,
            )
            .values(merged_into=loser_id)
        )
    await db_session.execute(
        update(customer_merges)
        .where(merges.merge_id == record.merge_id)
        .values(unmerged_at=func.now(), unmerge_event_id=event_id)
    )
    return list(record.followers)


async def _reseal_identifiers(
    db_session: AsyncSession,
    loser: str,
    winner: str,
    winner_key: bytes,
    kek: pii.KeyRing,
    *,
    only: Sequence[tuple[str, ...]] | None = None,
    owner_key: bytes | None = None,
) -> None:
    """Move `loser`'s identifiers (or `only` those keys) to `winner`, resealed with its key."""
    loser_key = owner_key or await get_data_key(db_session=db_session, customer_id=loser, kek=kek)
    table = customer_identifiers.c
    query = select(table.kind, table.digest, table.sealed).where(table.customer_id == loser)
    if only is not None:
        if not only:
            return
        query = query.where(tuple_(table.kind, table.digest).in_(only))
    for row in (await db_session.execute(query)).all():
        sealed = row.sealed
        if sealed is not None and loser_key is not None:
            plain = pii.open_sealed(sealed, data_key=loser_key, context=row.kind)
            sealed = pii.seal(plain, data_key=winner_key, context=row.kind)
        await db_session.execute(
            update(customer_identifiers)
            .where(table.kind == row.kind, table.digest == row.digest)
            .values(customer_id=winner, sealed=sealed)
        )


@dataclass(frozen=True, slots=True)
class RotationReport:
    """What one rotation batch did: rows rewritten, and rows it could not rewrite."""

    rewritten: int
    skipped: int
    after: tuple[str, ...] | None
    """Where the next batch starts (keyset cursor); None when this one was the last."""


async def rewrap_data_keys(
    *,
    db_session: AsyncSession,
    kek: pii.KeyRing,
    after: tuple[str, ...] = ("",),
    batch_size: int = 500,
) -> RotationReport:
    """Rewrap one batch of data keys not under the current KEK (or wrapped before wraps were
    bound to their customer) under the current KEK, bound to the customer id."""
    table = customer_keys.c
    query = (
        select(table.customer_id, table.wrapped_key, table.kek_id)
        .where(
            table.customer_id > after[0],
            or_(
                table.kek_id != kek.current_id,
                func.octet_length(table.wrapped_key) == pii.LEGACY_WRAPPED_LENGTH,
            ),
        )
        .order_by(table.customer_id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    rows = (await db_session.execute(query)).all()
    for row in rows:
        data_key = pii.unwrap_key(
            bytes(row.wrapped_key), kek=kek.get(row.kek_id), customer_id=row.customer_id
        )
        rewrapped = pii.wrap_key(data_key, kek=kek.current, customer_id=row.customer_id)
        await db_session.execute(
            update(customer_keys)
            .where(table.customer_id == row.customer_id)
            .values(wrapped_key=rewrapped, kek_id=kek.current_id)
        )
    cursor = (rows[-1].customer_id,) if len(rows) == batch_size else None
    return RotationReport(rewritten=len(rows), skipped=0, after=cursor)


async def redigest_identifiers(
    *,
    db_session: AsyncSession,
    kek: pii.KeyRing,
    hmac_key: pii.KeyRing,
    after: tuple[str, ...] = ("", ""),
    batch_size: int = 500,
) -> RotationReport:
    """Re-digest one batch of identifiers not under the current HMAC key: the raw value is
    not stored, so each is opened from its sealed copy with the customer's data key.

    Rows without a sealed value or whose customer has no key left are skipped (they stay
    readable by dual-read while the older key is configured, and are re-keyed at next contact).
    Merge records naming a re-digested identifier are renamed with it (unmerge stays exact).
    """
    table = customer_identifiers.c
    taken = customer_identifiers.alias("taken")
    query = (
        select(table.kind, table.digest, table.customer_id, table.sealed)
        .where(
            tuple_(table.kind, table.digest) > tuple_(*after),
            table.hmac_key_id != hmac_key.current_id,
        )
        .order_by(table.kind, table.digest)
        .limit(batch_size)
    )
    rows = (await db_session.execute(query)).all()
    keys: dict[str, bytes | None] = {}
    planned: list[tuple[DigestKey, DigestKey]] = []
    for row in rows:
        if row.customer_id not in keys:
            keys[row.customer_id] = await get_data_key(
                db_session=db_session, customer_id=row.customer_id, kek=kek
            )
        data_key = keys[row.customer_id]
        if row.sealed is None or data_key is None:
            continue
        plain = pii.open_sealed(row.sealed, data_key=data_key, context=row.kind)
        new_digest = pii.digest_identifier(row.kind, plain, key=hmac_key.current)
        planned.append(((row.kind, row.digest), (row.kind, new_digest)))
    await lock_identifiers(db_session=db_session, keys=[new for _, new in planned])
    for (kind, old), (_, new) in planned:
        moved = await db_session.execute(
            update(customer_identifiers)
            .where(
                table.kind == kind,
                table.digest == old,
                table.hmac_key_id != hmac_key.current_id,
                ~select(taken.c.digest).where(taken.c.kind == kind, taken.c.digest == new).exists(),
            )
            .values(digest=new, hmac_key_id=hmac_key.current_id)
            .returning(table.digest)
        )
        if moved.first() is None:  # re-keyed meanwhile by dual-read: drop a stale leftover
            await db_session.execute(
                delete(customer_identifiers).where(
                    table.kind == kind,
                    table.digest == old,
                    table.hmac_key_id != hmac_key.current_id,
                )
            )
    await _rewrite_merge_keys(db_session, dict(planned))
    cursor = (rows[-1].kind, rows[-1].digest) if len(rows) == batch_size else None
    return RotationReport(rewritten=len(planned), skipped=len(rows) - len(planned), after=cursor)
