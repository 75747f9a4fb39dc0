"""Identity that cannot be hijacked: linking across customers needs `identity:link`."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.integration.ingest.conftest import TopicReader
from tests.integration.ingest.test_events_api import fresh, unique_phone
from tests.integration.ingest.test_identity import landed, post, sessions_of
from touchpoint_common.events.payloads import IdentifierKind
from touchpoint_common.identity import lookup, store
from touchpoint_ingest.settings import IngestSettings

pytestmark = pytest.mark.integration


async def owner_of(
    app: Any, settings: IngestSettings, kind: IdentifierKind, raw: str
) -> str | None:
    """The customer the identity tables give for an identifier."""
    async with sessions_of(app)() as session:
        return await lookup.find_customer_by_identifier(
            db_session=session,
            kind=kind,
            raw=raw,
            hmac_key=settings.identifier_hmac_key(),
            default_region="CN",
        )


async def victim_and_attacker(
    client: httpx.AsyncClient, topic: TopicReader
) -> tuple[str, str, str, str]:
    """A victim known by phone and an attacker known by e-mail: (phone, email, victim, attacker)."""
    phone, email = unique_phone(), f"mallory.{uuid.uuid4().hex[:8]}@example.com"
    victim_event, attacker_event = fresh("purchase", phone=phone), fresh("page_view", email=email)
    await post(client, victim_event)
    await post(client, attacker_event)
    victim = (await landed(topic, victim_event)).customer_id
    attacker = (await landed(topic, attacker_event)).customer_id
    assert victim != attacker
    return phone, email, victim, attacker


async def test_takeover_without_identity_link_is_refused_and_the_phone_stays(
    till_client: httpx.AsyncClient,
    topic: TopicReader,
    ingest_app: Any,
    ingest_settings: IngestSettings,
) -> None:
    """An identify linking a victim's phone to the attacker's e-mail, from a till's key
    (no identity:link), is a 403 naming the scope (either direction, single or batch), and
    the identity tables still give each identifier its own customer."""
    phone, email, victim, attacker = await victim_and_attacker(till_client, topic)
    grab = fresh("identify", email=email)
    grab["payload"] = {"link": {"phone": phone}}
    response = await till_client.post("/v1/events", json=grab)
    assert response.status_code == 403, response.text
    assert "identity:link" in response.json()["detail"]

    reverse = fresh("identify", phone=phone)
    reverse["payload"] = {"link": {"email": email}}
    by_id = fresh("identify", customer_id=attacker)
    by_id["payload"] = {"link": {"customer_id": victim}}
    batch = await till_client.post("/v1/events/batch", json={"events": [reverse, by_id]})
    assert batch.status_code == 403, batch.text
    assert "identity:link" in batch.json()["detail"]

    assert await owner_of(ingest_app, ingest_settings, "phone", phone) == victim
    assert await owner_of(ingest_app, ingest_settings, "email", email) == attacker
    assert await topic.with_event_id(grab["event_id"]) == []
    retry = await till_client.post("/v1/events", json=grab)
    assert retry.status_code == 403, "the refused event_id was released, not recorded"


async def test_an_ordinary_event_never_moves_an_owned_identifier(
    till_client: httpx.AsyncClient,
    topic: TopicReader,
    ingest_app: Any,
    ingest_settings: IngestSettings,
) -> None:
    """A till's purchase naming the victim's phone and the attacker's e-mail together merges
    nobody and moves nothing: each identifier keeps its owner; an unowned identifier on the
    same till event is still attached to the customer the event lands on."""
    phone, email, victim, attacker = await victim_and_attacker(till_client, topic)
    mixed = fresh("purchase", phone=phone, email=email)
    response = await till_client.post("/v1/events", json=mixed)
    assert response.status_code in (202, 403, 422), response.text
    assert await owner_of(ingest_app, ingest_settings, "phone", phone) == victim
    assert await owner_of(ingest_app, ingest_settings, "email", email) == attacker
    loyalty = f"L-{uuid.uuid4().hex[:10]}"
    visit = fresh("store_visit", phone=phone, loyalty_id=loyalty)
    await post(till_client, visit)
    assert (await landed(topic, visit)).customer_id == victim
    assert await owner_of(ingest_app, ingest_settings, "loyalty_id", loyalty) == victim


async def test_takeover_with_identity_link_merges(
    client: httpx.AsyncClient,
    topic: TopicReader,
    ingest_app: Any,
    ingest_settings: IngestSettings,
) -> None:
    """The same identify from a sender holding identity:link merges the two customers."""
    phone, email, victim, attacker = await victim_and_attacker(client, topic)
    merge = fresh("identify", email=email)
    merge["payload"] = {"link": {"phone": phone}}
    await post(client, merge)
    wire = await landed(topic, merge)
    assert wire.customer_id == victim, "the older customer survives"
    assert wire.payload["merged_customer_ids"] == [attacker]
    assert await owner_of(ingest_app, ingest_settings, "email", email) == victim


async def test_unmerge_gives_each_customer_its_identifiers_back(
    client: httpx.AsyncClient,
    till_client: httpx.AsyncClient,
    topic: TopicReader,
    ingest_app: Any,
    ingest_settings: IngestSettings,
) -> None:
    """A merge is recorded (event id, time) and an unmerge from a holder of identity:link
    points the loser's identifiers back to it; without the scope an unmerge is a 403, and
    unmerging what is not merged is a 422 at payload.customer_id."""
    phone, email, victim, attacker = await victim_and_attacker(client, topic)
    merge = fresh("identify", email=email)
    merge["payload"] = {"link": {"phone": phone}}
    await post(client, merge)
    assert await owner_of(ingest_app, ingest_settings, "email", email) == victim
    async with sessions_of(ingest_app)() as session:
        [row] = (
            await session.execute(
                text(
                    "SELECT survivor_id, event_id::text, merged_at FROM customer_merges "
                    "WHERE loser_id = :loser"
                ),
                {"loser": attacker},
            )
        ).all()
    assert (row.survivor_id, row.event_id) == (victim, merge["event_id"])
    assert row.merged_at is not None

    unmerge = fresh("unmerge", customer_id=victim)
    unmerge["payload"] = {"customer_id": attacker}
    refused = await till_client.post("/v1/events", json=unmerge)
    assert refused.status_code == 403, refused.text
    assert "identity:link" in refused.json()["detail"]
    await post(client, unmerge)
    wire = await landed(topic, unmerge)
    assert wire.customer_id == victim
    assert wire.payload == {"customer_id": attacker, "followers": []}
    assert await owner_of(ingest_app, ingest_settings, "email", email) == attacker
    assert await owner_of(ingest_app, ingest_settings, "phone", phone) == victim
    later = fresh("page_view", email=email)
    await post(client, later)
    assert (await landed(topic, later)).customer_id == attacker

    again = fresh("unmerge", customer_id=victim)
    again["payload"] = {"customer_id": attacker}
    response = await client.post("/v1/events", json=again)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "customer_id"]


async def test_unmerge_of_a_chain_brings_the_followers_back_with_their_identifiers(
    ingest_app: Any, ingest_settings: IngestSettings
) -> None:
    """A merged into L, then L into S: unmerging L from S gives L back its own and A's
    identifiers, A follows L again, and S keeps its own; a second unmerge with the same
    event id is a no-op answering the same followers."""
    key = ingest_settings.identifier_hmac_key()
    kek = ingest_settings.kek_ring()
    factory = sessions_of(ingest_app)
    phones = [unique_phone() for _ in range(3)]
    idents = [store.make_identifier("phone", p, hmac_key=key, default_region="CN") for p in phones]
    resolved = []
    for ident in idents:  # s, l, a: created in this order, so the older survives each merge
        async with factory() as session, session.begin():
            resolved.append(
                await store.resolve_customer(db_session=session, identifiers=[ident], kek=kek)
            )
    survivor, loser, follower = resolved
    async with factory() as session, session.begin():
        await store.link_identifiers(
            db_session=session,
            resolved=loser,
            identifiers=[idents[2]],
            kek=kek,
            event_id=uuid.uuid4(),
        )
    async with factory() as session, session.begin():
        await store.link_identifiers(
            db_session=session,
            resolved=survivor,
            identifiers=[idents[1]],
            kek=kek,
            event_id=uuid.uuid4(),
        )
    assert await owner_of(ingest_app, ingest_settings, "phone", phones[2]) == survivor.customer_id
    undo = uuid.uuid4()
    for _ in range(2):
        async with factory() as session, session.begin():
            followers = await store.unmerge_customer(
                db_session=session,
                survivor_id=survivor.customer_id,
                loser_id=loser.customer_id,
                kek=kek,
                event_id=undo,
            )
        assert followers == [follower.customer_id]
    owners = [await owner_of(ingest_app, ingest_settings, "phone", p) for p in phones]
    assert owners == [survivor.customer_id, loser.customer_id, loser.customer_id]
    async with factory() as session:
        assert (
            await lookup.find_live_customer_id(db_session=session, customer_id=follower.customer_id)
            == loser.customer_id
        )
