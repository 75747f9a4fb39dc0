"""Identity resolution through the API and the store, on the real database and broker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.ingest.conftest import TopicReader
from tests.integration.ingest.test_events_api import fresh, unique_phone
from touchpoint_common.events.codec import decode_event
from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.events.payloads import IdentifierKind
from touchpoint_common.identity import lookup, store
from touchpoint_ingest.events.service import ingest_events
from touchpoint_ingest.events.validation import ValidEvent, validate_event
from touchpoint_ingest.settings import IngestSettings

pytestmark = pytest.mark.integration


async def post(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    response = await client.post("/v1/events", json=event)
    assert response.status_code == 202, response.text


async def landed(topic: TopicReader, event: dict[str, Any]) -> InteractionEvent:
    """The one copy of a posted event in the topic, decoded."""
    [record] = await topic.with_event_id(event["event_id"])
    wire = decode_event(record.value)
    assert record.key == wire.customer_id.encode()
    return wire


def sessions_of(app: Any) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = app.state.ingest.sessions
    return factory


async def test_phone_loyalty_and_email_resolve_to_one_customer_across_channels(
    client: httpx.AsyncClient, topic: TopicReader
) -> None:
    """POS (loyalty + phone), call (phone in another format), app (e-mail + loyalty), e-mail."""
    national = unique_phone()
    loyalty = f"L-{uuid.uuid4().hex[:10]}"
    email = f"Wei.{uuid.uuid4().hex[:6]}@Example.com"
    pos = fresh("purchase", loyalty_id=loyalty, phone=national)
    call = fresh("call", phone=f"+86 {national[:3]} {national[3:7]} {national[7:]}")
    app = fresh("membership", email=f"  {email.upper()} ", loyalty_id=loyalty)
    mail = fresh("page_view", email=email.lower())
    for event in (pos, call, app, mail):
        await post(client, event)
    customers = {(await landed(topic, event)).customer_id for event in (pos, call, app, mail)}
    assert len(customers) == 1


async def test_racing_requests_never_mint_two_customers(
    client: httpx.AsyncClient, topic: TopicReader, ingest_app: Any
) -> None:
    """Ten concurrent first sightings of one phone (different events) land on one customer."""
    phone = unique_phone()
    events = [fresh("call", phone=phone) for _ in range(10)]
    async with sessions_of(ingest_app)() as session:
        started = await session.scalar(text("SELECT clock_timestamp()"))
    responses = await asyncio.gather(*(client.post("/v1/events", json=e) for e in events))
    assert [r.status_code for r in responses] == [202] * 10
    customers = {(await landed(topic, event)).customer_id for event in events}
    assert len(customers) == 1
    async with sessions_of(ingest_app)() as session:
        orphans = await session.scalar(
            text(
                # Only customers minted during this test: others in the session database
                # (e.g. the foundation round trip) are not this race's doing.
                "SELECT count(*) FROM customers c WHERE c.created_at >= :started "
                "AND c.merged_into IS NULL AND c.erased_at IS NULL AND NOT EXISTS "
                "(SELECT 1 FROM customer_identifiers i WHERE i.customer_id = c.customer_id)"
            ),
            {"started": started},
        )
    assert orphans == 0, "a customer minted by a lost race was left behind"


async def test_store_race_between_replicas_with_crossed_identifier_order(
    ingest_app: Any, ingest_settings: IngestSettings
) -> None:
    """Independent sessions (as two replicas would) racing on {phone, e-mail}: one customer."""
    key = ingest_settings.identifier_hmac_key()
    kek = ingest_settings.kek_ring()
    phone = store.make_identifier("phone", unique_phone(), hmac_key=key, default_region="CN")
    email = store.make_identifier(
        "email", f"r{uuid.uuid4().hex[:8]}@example.com", hmac_key=key, default_region="CN"
    )
    factory = sessions_of(ingest_app)

    async def replica(order: list[store.Identifier]) -> str:
        async with factory() as session, session.begin():
            resolved = await store.resolve_customer(db_session=session, identifiers=order, kek=kek)
            await asyncio.sleep(0.05)  # hold the transaction open so the racers overlap
            return resolved.customer_id

    orders = [[phone, email], [email, phone]] * 6
    winners = await asyncio.gather(*(replica(order) for order in orders))
    assert len(set(winners)) == 1
    async with factory() as session:
        owner_phone = await store.get_customer_id(
            db_session=session, kind="phone", digest=phone.digest
        )
        owner_email = await store.get_customer_id(
            db_session=session, kind="email", digest=email.digest
        )
    assert owner_phone == owner_email == winners[0]


async def test_identify_links_and_merges_web_session_into_member(
    client: httpx.AsyncClient, topic: TopicReader, ingest_app: Any
) -> None:
    """Anonymous browsing, then login: the anonymous customer merges into the member."""
    loyalty = f"L-{uuid.uuid4().hex[:10]}"
    anonymous = f"web-{uuid.uuid4().hex}"
    member_purchase = fresh("purchase", loyalty_id=loyalty)
    await post(client, member_purchase)
    browse = fresh("page_view", anonymous_id=anonymous)
    await post(client, browse)
    member = (await landed(topic, member_purchase)).customer_id
    visitor = (await landed(topic, browse)).customer_id
    assert member != visitor

    login = fresh("identify", anonymous_id=anonymous)
    login["payload"] = {"link": {"loyalty_id": loyalty}}
    await post(client, login)
    wire = await landed(topic, login)
    assert wire.customer_id == member, "the older customer (the member) survives"
    assert wire.payload["merged_customer_ids"] == [visitor]
    [linked] = wire.payload["linked"]
    assert linked["kind"] == "loyalty_id"

    after = fresh("page_view", anonymous_id=anonymous)
    await post(client, after)
    assert (await landed(topic, after)).customer_id == member
    async with sessions_of(ingest_app)() as session:
        assert await store.get_live_customer_id(db_session=session, customer_id=visitor) == member


async def test_identify_links_a_new_phone_to_a_known_customer(
    client: httpx.AsyncClient, topic: TopicReader
) -> None:
    """A phone given at a call is linked: a later phone-only event finds the same customer."""
    loyalty = f"L-{uuid.uuid4().hex[:10]}"
    phone = unique_phone()
    first = fresh("store_visit", loyalty_id=loyalty)
    await post(client, first)
    link = fresh("identify", loyalty_id=loyalty)
    link["channel"], link["payload"] = "call_centre", {"link": {"phone": phone}}
    await post(client, link)
    later = fresh("call", phone=phone)
    await post(client, later)
    owner = (await landed(topic, first)).customer_id
    linked = await landed(topic, link)
    assert linked.customer_id == owner
    assert linked.payload["merged_customer_ids"] == []
    assert (await landed(topic, later)).customer_id == owner


async def test_erased_customer_is_refused_by_id_and_its_phone_mints_anew(
    client: httpx.AsyncClient, topic: TopicReader, ingest_app: Any
) -> None:
    """After erasure: naming the customer_id is a 409; the old phone resolves to a new customer."""
    phone = unique_phone()
    first = fresh("call", phone=phone)
    await post(client, first)
    customer_id = (await landed(topic, first)).customer_id
    erase = fresh("erase", phone=phone)
    await post(client, erase)
    assert (await landed(topic, erase)).customer_id == customer_id

    async with sessions_of(ingest_app)() as session, session.begin():  # as the profile's fold does
        erased = await store.erase_customer(db_session=session, customer_id=customer_id)
    assert erased == [customer_id]
    ingest_app.state.ingest.cache.forget_customer(customer_id)

    by_id = fresh("page_view", customer_id=customer_id)
    response = await client.post("/v1/events", json=by_id)
    assert response.status_code == 409
    assert "erased" in response.json()["detail"]
    again = fresh("call", phone=phone)
    await post(client, again)
    assert (await landed(topic, again)).customer_id != customer_id
    async with sessions_of(ingest_app)() as session:
        assert (
            await store.get_data_key(
                db_session=session, customer_id=customer_id, kek=ingest_app.state.ingest.kek
            )
            is None
        )


async def test_unknown_customer_id_and_erase_of_nobody_are_422(client: httpx.AsyncClient) -> None:
    """customer_ids are minted by Touchpoint; an unknown one (or erasing nobody) is a 422."""
    response = await client.post("/v1/events", json=fresh("call", customer_id="nobody"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "customer", "customer_id"]
    response = await client.post("/v1/events", json=fresh("erase", phone=unique_phone()))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "customer"]


async def test_parallel_passes_minting_crossed_identifiers_agree(
    ingest_app: Any, ingest_settings: IngestSettings, topic: TopicReader
) -> None:
    """Two accept passes at once, naming two new phones in opposite orders: the deadlock this
    can cause in PostgreSQL is retried, so both succeed and each phone gets one customer."""
    context = ingest_app.state.ingest
    now = datetime.now(UTC)
    rules = context.rules
    for _ in range(5):
        phones = [unique_phone(), unique_phone()]
        raw = [fresh("call", phone=p) for p in (*phones, *reversed(phones))]
        checked = [validate_event(event, now=now, rules=rules) for event in raw]
        events = [event for event in checked if isinstance(event, ValidEvent)]
        paths = [("body",), ("body",)]
        forward, backward = await asyncio.gather(
            ingest_events(context=context, events=events[:2], paths=paths),
            ingest_events(context=context, events=events[2:], paths=paths),
        )
        assert [o.status.value for o in (*forward, *backward)] == ["accepted"] * 4
        owners = [(await landed(topic, event)).customer_id for event in raw]
        assert owners[0] == owners[3]
        assert owners[1] == owners[2]
        assert owners[0] != owners[1]


async def test_lookup_api_follows_merges_and_names_a_malformed_field(
    ingest_app: Any, ingest_settings: IngestSettings
) -> None:
    """identity.lookup: identifier or merged id -> the survivor; erased/unknown -> None."""
    key = ingest_settings.identifier_hmac_key()
    kek = ingest_settings.kek_ring()
    phone_raw, anonymous_raw = unique_phone(), f"web-{uuid.uuid4().hex}"
    phone = store.make_identifier("phone", phone_raw, hmac_key=key, default_region="CN")
    anonymous = store.make_identifier(
        "anonymous_id", anonymous_raw, hmac_key=key, default_region="CN"
    )
    factory = sessions_of(ingest_app)
    async with factory() as session, session.begin():
        member = await store.resolve_customer(db_session=session, identifiers=[phone], kek=kek)
    async with factory() as session, session.begin():
        visitor = await store.resolve_customer(db_session=session, identifiers=[anonymous], kek=kek)
    async with factory() as session, session.begin():
        linked = await store.link_identifiers(
            db_session=session, resolved=visitor, identifiers=[phone], kek=kek
        )
    assert linked.customer_id == member.customer_id != visitor.customer_id

    async def find(kind: IdentifierKind, raw: str) -> str | None:
        async with factory() as session:
            return await lookup.find_customer_by_identifier(
                db_session=session, kind=kind, raw=raw, hmac_key=key, default_region="CN"
            )

    async def live(customer_id: str) -> str | None:
        async with factory() as session:
            return await lookup.find_live_customer_id(db_session=session, customer_id=customer_id)

    national = f"+86 {phone_raw[:3]}-{phone_raw[3:7]}-{phone_raw[7:]}"
    assert await find("phone", national) == member.customer_id
    assert await find("anonymous_id", anonymous_raw) == member.customer_id
    assert await live(visitor.customer_id) == member.customer_id
    assert await find("phone", unique_phone()) is None
    assert await live("no-such-customer") is None
    with pytest.raises(lookup.BadIdentifier) as malformed:
        await find("phone", "12")
    assert malformed.value.field == "phone"
    assert str(malformed.value).startswith("phone: ")

    async with factory() as session, session.begin():
        await store.erase_customer(db_session=session, customer_id=member.customer_id)
    assert await find("phone", phone_raw) is None
    assert await live(visitor.customer_id) is None
    assert await live(member.customer_id) is None
