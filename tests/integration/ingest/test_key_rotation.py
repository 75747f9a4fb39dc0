"""Rotating the KEK and the HMAC key on a populated database loses no one."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.profile.test_api import random_cn_mobile
from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_common.identity import lookup, pii, store
from touchpoint_common.identity.rotate import Target, rotate
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers import DevServers
from touchpoint_devtools.devservers.databases import create_migrated_database, drop_database

pytestmark = pytest.mark.integration
CUSTOMERS = 12


@pytest_asyncio.fixture
async def own_settings(
    dev_servers: DevServers, settings: CommonSettings
) -> AsyncIterator[CommonSettings]:
    """Settings on a database of this test's own: rotation rewrites every row it holds."""
    name = f"touchpoint_rotate_{uuid.uuid4().hex[:8]}"
    url = await create_migrated_database(dev_servers.database_url, name)
    yield settings.model_copy(update={"database_url": url})
    await drop_database(dev_servers.database_url, name)


@pytest_asyncio.fixture
async def own_sessions(
    own_settings: CommonSettings,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the test's own database."""
    engine = create_engine(own_settings)
    yield create_session_factory(engine)
    await engine.dispose()


def rotated(settings: CommonSettings, *, keep_old: bool) -> CommonSettings:
    """The same settings with new current keys `k2`; the `k1` keys kept as older or dropped."""
    changes: dict[str, object] = {
        "pii_hmac_key": SecretStr(base64.b64encode(os.urandom(32)).decode()),
        "pii_hmac_key_id": "k2",
        "pii_kek": SecretStr(base64.b64encode(os.urandom(32)).decode()),
        "pii_kek_id": "k2",
        "pii_hmac_keys_old": {"k1": settings.pii_hmac_key} if keep_old else {},
        "pii_keks_old": {"k1": settings.pii_kek} if keep_old else {},
    }
    return settings.model_copy(update=changes)


async def populate(
    settings: CommonSettings, sessions: async_sessionmaker[AsyncSession]
) -> dict[str, dict[str, str]]:
    """Customers known by phone, e-mail and loyalty id under today's keys; id -> identifiers."""
    ring = settings.hmac_key_ring()
    people: dict[str, dict[str, str]] = {}
    async with sessions() as session, session.begin():
        for n in range(CUSTOMERS):
            raw = {
                "phone": random_cn_mobile(),
                "email": f"p{n}.{uuid.uuid4().hex[:6]}@example.com",
                "loyalty_id": f"L-{uuid.uuid4().hex[:10]}",
            }
            identifiers = [
                store.make_identifier(kind, value, hmac_key=ring, default_region="CN")  # type: ignore[arg-type]
                for kind, value in raw.items()
            ]
            resolved = await store.resolve_customer(
                db_session=session, identifiers=identifiers, kek=settings.kek_ring()
            )
            people[resolved.customer_id] = raw
    return people


async def everyone_found(
    settings: CommonSettings,
    sessions: async_sessionmaker[AsyncSession],
    people: dict[str, dict[str, str]],
) -> None:
    """Every customer is found by each identifier, and its sealed identifiers open."""
    async with sessions() as session:
        for customer_id, raw in people.items():
            for kind, value in raw.items():
                found = await lookup.find_customer_by_identifier(
                    db_session=session,
                    kind=kind,  # type: ignore[arg-type]
                    raw=value,
                    hmac_key=settings.hmac_key_ring(),
                    default_region="CN",
                )
                assert found == customer_id, (kind, customer_id)
            masked = await lookup.get_masked_identifiers(
                db_session=session, customer_id=customer_id, kek=settings.kek_ring()
            )
            assert {kind for kind, _ in masked} == set(raw)


async def test_rotating_both_keys_keeps_every_customer_findable_and_readable(
    own_settings: CommonSettings, own_sessions: async_sessionmaker[AsyncSession]
) -> None:
    """With new current keys and the old ones kept, everyone is found (dual-read); after the
    rotate command everyone is still found and every sealed value opens with the old keys
    removed from the settings, and every row names the new key ids."""
    people = await populate(own_settings, own_sessions)
    during = rotated(own_settings, keep_old=True)
    await everyone_found(during, own_sessions, people)

    done = await rotate(during, own_sessions, Target.ALL, batch_size=5)
    assert done == {"kek": (CUSTOMERS, 0), "hmac": (3 * CUSTOMERS, 0)}
    after = during.model_copy(update={"pii_hmac_keys_old": {}, "pii_keks_old": {}})
    await everyone_found(after, own_sessions, people)
    async with own_sessions() as session:
        kek_ids: set[str] = set((await session.scalars(select(store.customer_keys.c.kek_id))).all())
        hmac_ids: set[str] = set(
            (await session.scalars(select(store.customer_identifiers.c.hmac_key_id))).all()
        )
    assert kek_ids == hmac_ids == {"k2"}
    again = await rotate(after, own_sessions, Target.ALL)
    assert again == {"kek": (0, 0), "hmac": (0, 0)}


async def test_an_identifier_under_the_old_key_is_re_keyed_at_next_contact(
    own_settings: CommonSettings, own_sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Before the command runs, ingest resolving a known phone under the new key finds the
    customer through its old digest and moves the row to the new digest and key id."""
    people = await populate(own_settings, own_sessions)
    during = rotated(own_settings, keep_old=True)
    customer_id, raw = next(iter(people.items()))
    phone = store.make_identifier(
        "phone", raw["phone"], hmac_key=during.hmac_key_ring(), default_region="CN"
    )
    async with own_sessions() as session, session.begin():
        resolved = await store.resolve_customer(
            db_session=session, identifiers=[phone], kek=during.kek_ring(), mint=False
        )
    assert resolved.customer_id == customer_id
    async with own_sessions() as session:
        row = (
            await session.execute(
                select(store.customer_identifiers).where(
                    store.customer_identifiers.c.digest == phone.digest
                )
            )
        ).one()
    assert (row.customer_id, row.hmac_key_id) == (customer_id, "k2")


async def test_a_wrapped_key_moved_to_another_customer_does_not_open(
    own_settings: CommonSettings, own_sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The wrap binds the customer id: A's wrapped key copied into B's row fails to unwrap."""
    first, second = list(await populate(own_settings, own_sessions))[:2]
    table = store.customer_keys
    async with own_sessions() as session, session.begin():
        wrapped = await session.scalar(
            select(table.c.wrapped_key).where(table.c.customer_id == first)
        )
        await session.execute(
            update(table).where(table.c.customer_id == second).values(wrapped_key=wrapped)
        )
    async with own_sessions() as session:
        with pytest.raises(InvalidTag):
            await store.get_data_key(
                db_session=session, customer_id=second, kek=own_settings.kek_ring()
            )


async def test_keys_wrapped_before_binding_are_rewrapped_bound(
    own_settings: CommonSettings, own_sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A data key wrapped the old way (no customer binding) still opens, and `rotate kek`
    rewraps it bound to its customer under the same current key."""
    customer_id = next(iter(await populate(own_settings, own_sessions)))
    kek = own_settings.kek_ring()
    table = store.customer_keys
    async with own_sessions() as session, session.begin():
        data_key = await store.get_data_key(db_session=session, customer_id=customer_id, kek=kek)
        assert data_key is not None
        nonce = os.urandom(12)
        legacy = nonce + AESGCM(kek.current).encrypt(nonce, data_key, b"touchpoint-data-key")
        await session.execute(
            update(table).where(table.c.customer_id == customer_id).values(wrapped_key=legacy)
        )
    done = await rotate(own_settings, own_sessions, Target.KEK)
    assert done == {"kek": (1, 0)}
    async with own_sessions() as session:
        wrapped = await session.scalar(
            select(table.c.wrapped_key).where(table.c.customer_id == customer_id)
        )
        assert wrapped is not None
        assert not pii.is_legacy_wrap(bytes(wrapped))
        opened = await store.get_data_key(db_session=session, customer_id=customer_id, kek=kek)
    assert opened == data_key


async def merged_pair(
    settings: CommonSettings, sessions: async_sessionmaker[AsyncSession]
) -> tuple[dict[str, dict[str, str]], str, str]:
    """Two customers merged by an identify naming the first and the second's phone:
    (people, survivor, loser); created in one transaction, the smaller id survives."""
    people = await populate(settings, sessions)
    survivor_id, loser_id = sorted(list(people)[:2])
    ring = settings.hmac_key_ring()
    phone = store.make_identifier(
        "phone", people[loser_id]["phone"], hmac_key=ring, default_region="CN"
    )
    async with sessions() as session, session.begin():
        survivor = await store.resolve_customer(
            db_session=session, identifiers=[], customer_id=survivor_id, kek=settings.kek_ring()
        )
        merged = await store.link_identifiers(
            db_session=session,
            resolved=survivor,
            identifiers=[phone],
            kek=settings.kek_ring(),
            event_id=uuid.uuid4(),
        )
    assert (merged.customer_id, merged.merged_customer_ids) == (survivor_id, (loser_id,))
    return people, survivor_id, loser_id


async def unmerge(
    settings: CommonSettings,
    sessions: async_sessionmaker[AsyncSession],
    survivor_id: str,
    loser_id: str,
) -> None:
    """Undo the merge of loser_id into survivor_id."""
    async with sessions() as session, session.begin():
        await store.unmerge_customer(
            db_session=session,
            survivor_id=survivor_id,
            loser_id=loser_id,
            kek=settings.kek_ring(),
            event_id=uuid.uuid4(),
        )


async def test_unmerge_after_an_hmac_rotation_gives_both_customers_their_identifiers(
    own_settings: CommonSettings, own_sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Merge, rotate both keys (the command re-digests every identifier and the merge
    record with them), remove the old keys, unmerge: each customer is found by its own phone,
    e-mail and loyalty id again, and the merge record names only current digests."""
    people, survivor_id, loser_id = await merged_pair(own_settings, own_sessions)
    during = rotated(own_settings, keep_old=True)
    done = await rotate(during, own_sessions, Target.ALL, batch_size=7)
    assert done == {"kek": (CUSTOMERS, 0), "hmac": (3 * CUSTOMERS, 0)}
    after = during.model_copy(update={"pii_hmac_keys_old": {}, "pii_keks_old": {}})
    async with own_sessions() as session:
        keys: list[str]
        [keys] = (
            await session.scalars(
                select(store.customer_merges.c.identifier_keys).where(
                    store.customer_merges.c.loser_id == loser_id
                )
            )
        ).all()
        current = {
            store.merge_key(row.kind, row.digest)
            for row in await session.execute(select(store.customer_identifiers))
        }
    assert len(keys) == 3
    assert set(keys) <= current
    await unmerge(after, own_sessions, survivor_id, loser_id)
    await everyone_found(after, own_sessions, people)


async def test_unmerge_after_dual_read_re_keyed_the_losers_identifier(
    own_settings: CommonSettings, own_sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Merge, deploy a new HMAC key, and let ingest's dual-read re-key the loser's e-mail at
    next contact before the command runs: the merge record follows the new digest, so after
    the command and without the old key the unmerge still gives the e-mail back."""
    people, survivor_id, loser_id = await merged_pair(own_settings, own_sessions)
    during = rotated(own_settings, keep_old=True)
    email = store.make_identifier(
        "email", people[loser_id]["email"], hmac_key=during.hmac_key_ring(), default_region="CN"
    )
    async with own_sessions() as session, session.begin():
        await store.lock_identifiers(db_session=session, keys=[email.key])
        found = await store.resolve_customer(
            db_session=session, identifiers=[email], kek=during.kek_ring(), mint=False
        )
    assert found.customer_id == survivor_id
    await rotate(during, own_sessions, Target.ALL)
    after = during.model_copy(update={"pii_hmac_keys_old": {}, "pii_keks_old": {}})
    await unmerge(after, own_sessions, survivor_id, loser_id)
    await everyone_found(after, own_sessions, people)


async def test_an_erase_drops_the_erased_identifiers_from_merge_records(
    own_settings: CommonSettings, own_sessions: async_sessionmaker[AsyncSession]
) -> None:
    """After an erase of a merged customer no merge record holds a digest of its identifiers
    (a holder of the HMAC key could otherwise link its phone to the customer ids)."""
    people, survivor_id, loser_id = await merged_pair(own_settings, own_sessions)
    async with own_sessions() as session, session.begin():
        digests: set[str] = set(
            (
                await session.scalars(
                    select(store.customer_identifiers.c.digest).where(
                        store.customer_identifiers.c.customer_id == survivor_id
                    )
                )
            ).all()
        )
        erased = await store.erase_customer(db_session=session, customer_id=survivor_id)
    assert set(erased) == {survivor_id, loser_id}
    assert len(digests) == 6
    async with own_sessions() as session:
        recorded: list[list[str]] = list(
            (await session.scalars(select(store.customer_merges.c.identifier_keys))).all()
        )
    assert recorded == [[]]
    assert len(people) == CUSTOMERS
