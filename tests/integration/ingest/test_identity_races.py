"""Erase against identifier inserts, two real transactions driven into each interleaving."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.ingest.test_events_api import unique_phone
from tests.integration.locks import Body, second_waits_for_first
from touchpoint_common.identity import store
from touchpoint_ingest.settings import IngestSettings

pytestmark = pytest.mark.integration


class Identity:
    """The store's inputs for one test: sessions, the key-encryption key, fresh identifiers."""

    def __init__(self, ingest_app: Any, ingest_settings: IngestSettings) -> None:
        self.sessions: async_sessionmaker[AsyncSession] = ingest_app.state.ingest.sessions
        self.kek = ingest_settings.kek_ring()
        self.hmac_key = ingest_settings.identifier_hmac_key()

    def phone(self) -> store.Identifier:
        """A phone number nobody has."""
        return store.make_identifier(
            "phone", unique_phone(), hmac_key=self.hmac_key, default_region="CN"
        )

    def email(self) -> store.Identifier:
        """An e-mail address nobody has."""
        raw = f"race-{uuid.uuid4().hex[:10]}@example.com"
        return store.make_identifier("email", raw, hmac_key=self.hmac_key, default_region="CN")

    async def customer_with(self, ident: store.Identifier) -> store.ResolvedCustomer:
        """A committed customer owning this identifier."""
        async with self.sessions() as session, session.begin():
            return await store.resolve_customer(
                db_session=session, identifiers=[ident], kek=self.kek
            )

    def resolving(self, identifiers: list[store.Identifier]) -> Body:
        """A transaction body: an ingest pass resolving (and linking) these identifiers."""

        async def resolve(session: AsyncSession) -> store.ResolvedCustomer:
            return await store.resolve_customer(
                db_session=session, identifiers=identifiers, kek=self.kek
            )

        return resolve

    async def erase(self, session: AsyncSession, customer_id: str) -> list[str]:
        """Erase as the profile's fold does."""
        return await store.erase_customer(db_session=session, customer_id=customer_id)

    async def identifiers_of(self, customer_id: str) -> list[tuple[str, str]]:
        """The (kind, digest) rows that point at this customer, committed."""
        table = store.customer_identifiers.c
        query = select(table.kind, table.digest).where(table.customer_id == customer_id)
        async with self.sessions() as session:
            return [(row.kind, row.digest) for row in await session.execute(query)]


@pytest.fixture
def identity(ingest_app: Any, ingest_settings: IngestSettings) -> Identity:
    """The identity store on the session database."""
    return Identity(ingest_app, ingest_settings)


async def test_identifier_linked_during_an_erase_waits_and_goes_to_a_new_customer(
    identity: Identity,
) -> None:
    """Erase holds the customer; a pass linking a new e-mail to it (found by its phone) waits,
    then finds it erased and resolves again: nothing is left pointing at the erased customer."""
    phone, email = identity.phone(), identity.email()
    erased = (await identity.customer_with(phone)).customer_id
    link = identity.resolving([phone, email])

    ids, resolved, waited = await second_waits_for_first(
        identity.sessions, lambda session: identity.erase(session, erased), link
    )
    assert ids == [erased]
    assert await identity.identifiers_of(erased) == [], "an identifier of an erased customer"
    assert waited, "the identifier insert must queue on the erase"
    assert resolved.customer_id != erased
    assert sorted(await identity.identifiers_of(resolved.customer_id)) == sorted(
        [phone.key, email.key]
    )


async def test_erase_during_an_identifier_insert_waits_and_deletes_it_too(
    identity: Identity,
) -> None:
    """A pass linked a new e-mail to the customer and has not committed; the erase waits for it
    and then deletes that row as well."""
    phone, email = identity.phone(), identity.email()
    erased = (await identity.customer_with(phone)).customer_id
    link = identity.resolving([phone, email])

    resolved, ids, waited = await second_waits_for_first(
        identity.sessions, link, lambda session: identity.erase(session, erased)
    )
    assert resolved.customer_id == erased
    assert ids == [erased]
    assert await identity.identifiers_of(erased) == [], "an identifier of an erased customer"
    assert waited, "the erase must queue on the identifier insert"


async def test_event_naming_a_customer_erased_meanwhile_is_refused(identity: Identity) -> None:
    """A pass naming the customer_id with a new identifier waits for the erase, then refuses."""
    phone = identity.phone()
    customer = await identity.customer_with(phone)

    async def link(session: AsyncSession) -> store.ResolvedCustomer:
        return await store.resolve_customer(
            db_session=session,
            identifiers=[identity.email()],
            customer_id=customer.customer_id,
            kek=identity.kek,
        )

    with pytest.raises(store.ErasedCustomer):
        await second_waits_for_first(
            identity.sessions, lambda session: identity.erase(session, customer.customer_id), link
        )
    assert await identity.identifiers_of(customer.customer_id) == []


async def test_identify_linking_to_a_customer_erased_meanwhile_is_refused(
    identity: Identity,
) -> None:
    """`identify` (link_identifiers) of a customer resolved before the erase committed waits,
    then refuses instead of linking the new phone to the erased customer."""
    customer = await identity.customer_with(identity.email())

    async def identify(session: AsyncSession) -> store.ResolvedCustomer:
        return await store.link_identifiers(
            db_session=session, resolved=customer, identifiers=[identity.phone()], kek=identity.kek
        )

    async def erase(session: AsyncSession) -> list[str]:
        return await identity.erase(session, customer.customer_id)

    with pytest.raises(store.ErasedCustomer):
        await second_waits_for_first(identity.sessions, erase, identify)
    assert await identity.identifiers_of(customer.customer_id) == []


async def test_two_passes_linking_to_one_customer_do_not_wait_for_each_other(
    identity: Identity,
) -> None:
    """The lock linking takes is shared: a second pass linking another new e-mail to the same
    customer goes through while the first is still open, and both links stay."""
    phone = identity.phone()
    owner = (await identity.customer_with(phone)).customer_id
    first, second = identity.email(), identity.email()
    one, other, waited = await second_waits_for_first(
        identity.sessions, identity.resolving([phone, first]), identity.resolving([phone, second])
    )
    assert not waited
    assert one.customer_id == other.customer_id == owner
    assert sorted(await identity.identifiers_of(owner)) == sorted(
        [phone.key, first.key, second.key]
    )
