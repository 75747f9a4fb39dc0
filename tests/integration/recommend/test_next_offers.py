"""Next offers end to end: ingest -> Kafka -> profile fold -> recommend, on real servers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.recommend.conftest import (
    customer_id_of,
    event,
    new_loyalty_id,
    new_member,
    next_offers,
    post_event,
    profile_view,
    read_topic,
    wait_until,
)
from touchpoint_recommend.settings import RecommendSettings

pytestmark = pytest.mark.integration
OUTCOME_QUERY = "SELECT outcome FROM recommend_contacts WHERE decision_id = :d AND offer_id = :o"
Apps = dict[str, httpx.AsyncClient]


async def wait_presented(settings: RecommendSettings, decision_id: str) -> list[Any]:
    """The decision's offer_presented records, once the outbox relay has sent them."""
    logged: list[Any] = []

    async def relayed() -> bool:
        records = await read_topic(
            settings.kafka_bootstrap,
            settings.topic_interactions,
            partitions=settings.topic_partitions,
        )
        logged[:] = [
            r
            for r in records
            if dict(r.headers).get("event_type") == b"offer_presented"
            and orjson.loads(r.value)["payload"]["decision_id"] == decision_id
        ]
        return bool(logged)

    await wait_until(relayed, what="offer_presented on the topic")
    return logged


async def test_decision_is_logged_to_kafka(
    apps: Apps, db: AsyncEngine, recommend_settings: RecommendSettings
) -> None:
    """The decision is in PostgreSQL and on the topic as offer_presented, keyed by customer."""
    loyalty_id = await new_member(apps)
    answer = await next_offers(apps, loyalty_id, channel="pos")
    assert answer["offers"]
    assert answer["event_logged"] is True
    customer_id = await customer_id_of(db, answer["decision_id"])
    assert customer_id is not None
    assert customer_id == answer["customer_id"]

    logged = await wait_presented(recommend_settings, answer["decision_id"])
    assert len(logged) == 1
    record = logged[0]
    value = orjson.loads(record.value)
    assert record.key == customer_id.encode()
    assert value["channel"] == "pos"
    assert value["payload"]["segment"] == answer["segment"]
    assert value["payload"]["strategy"] == answer["strategy"]
    assert [(o["offer_id"], o["rank"]) for o in value["payload"]["offers"]] == [
        (o["offer_id"], o["rank"]) for o in answer["offers"]
    ]
    assert {k for k, _ in record.headers} >= {"event_id", "event_type", "schema_version"}


async def test_decision_is_attributed_to_the_store_and_agent_that_asked(
    apps: Apps, db: AsyncEngine, recommend_settings: RecommendSettings
) -> None:
    """store_id and agent_id on a next-offers request land on the decision row and on its
    offer_presented event (envelope and payload), so acceptance can be reported by store; a
    request without them records nulls."""
    loyalty_id = await new_member(apps)
    answer = await next_offers(apps, loyalty_id, channel="pos", store_id="12", agent_id="clerk-7")
    plain = await next_offers(apps, loyalty_id, channel="pos")
    async with db.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT decision_id, store_id, agent_id FROM recommend_decisions "
                "WHERE decision_id IN (:a, :b)"
            ),
            {"a": answer["decision_id"], "b": plain["decision_id"]},
        )
        recorded = {row.decision_id: (row.store_id, row.agent_id) for row in rows}
    assert recorded == {
        answer["decision_id"]: ("12", "clerk-7"),
        plain["decision_id"]: (None, None),
    }
    [value] = [
        orjson.loads(r.value)
        for r in await wait_presented(recommend_settings, answer["decision_id"])
    ]
    assert (value["store_id"], value["agent_id"]) == ("12", "clerk-7")
    assert (value["payload"]["store_id"], value["payload"]["agent_id"]) == ("12", "clerk-7")


async def test_bad_attribution_is_a_422_naming_the_field(apps: Apps) -> None:
    """A blank, over-long or control-character store_id / agent_id is a 422 at that query
    field, on both next-offers routes, never a 500."""
    client = apps["recommend"]
    for field in ("store_id", "agent_id"):
        for bad in ("", "   ", "x" * 101, "s\x00"):
            for path, params in (
                ("/v1/customers/lookup/next-offers", {"loyalty_id": "L-x", "channel": "pos"}),
                ("/v1/customers/c-1/next-offers", {"channel": "pos"}),
            ):
                answer = await client.get(path, params={**params, field: bad})
                assert answer.status_code == 422, (field, bad, answer.text)
                assert answer.json()["detail"][0]["loc"] == ["query", field], answer.text


async def test_rejection_suppresses_that_offer_on_the_next_call(
    apps: Apps, db: AsyncEngine
) -> None:
    """A rejection posted through ingest removes the offer from the customer's next answer."""
    loyalty_id = await new_member(apps)
    first = await next_offers(apps, loyalty_id, channel="pos")
    rejected = first["offers"][0]["offer_id"]
    await post_event(
        apps,
        event(
            "offer_response",
            loyalty_id,
            {"decision_id": first["decision_id"], "offer_id": rejected, "outcome": "rejected"},
        ),
    )

    async def learned() -> bool:
        async with db.connect() as connection:
            outcome = await connection.execute(
                text(OUTCOME_QUERY),
                {"d": first["decision_id"], "o": rejected},
            )
            return outcome.scalar_one_or_none() == "rejected"

    await wait_until(learned, what="the learner to record the rejection")
    second = await next_offers(apps, loyalty_id, channel="pos")
    assert rejected not in [offer["offer_id"] for offer in second["offers"]]
    assert {"offer_id": rejected, "reason": "rejected today"} in second["suppressed"]
    assert second["offers"], "other offers are still made"


async def test_response_is_learned_once(apps: Apps, db: AsyncEngine) -> None:
    """The same response posted twice (two event ids) moves the posterior once; the
    learning summary counts it for the decision's arm."""
    loyalty_id = await new_member(apps, category="kids")
    answer = await next_offers(apps, loyalty_id, channel="call_centre")
    offer_id = answer["offers"][0]["offer_id"]
    segment = answer["segment"]

    async def failures() -> int:
        async with db.connect() as connection:
            row = await connection.execute(
                text(
                    "SELECT failures FROM recommend_posteriors WHERE segment = :s AND offer_id = :o"
                ),
                {"s": segment, "o": offer_id},
            )
            return int(row.scalar_one_or_none() or 0)

    before = await failures()
    response = {"decision_id": answer["decision_id"], "offer_id": offer_id, "outcome": "ignored"}
    await post_event(apps, event("offer_response", loyalty_id, response, channel="call_centre"))
    await post_event(apps, event("offer_response", loyalty_id, response, channel="call_centre"))
    # Same customer, same partition: once this later response is learned, both copies were read.
    second = answer["offers"][1]["offer_id"]
    await post_event(
        apps,
        event(
            "offer_response",
            loyalty_id,
            {**response, "offer_id": second, "outcome": "accepted"},
            channel="call_centre",
        ),
    )

    async def accepted_second() -> bool:
        async with db.connect() as connection:
            row = await connection.execute(
                text(OUTCOME_QUERY),
                {"d": answer["decision_id"], "o": second},
            )
            return row.scalar_one_or_none() == "accepted"

    await wait_until(accepted_second, what="the learner to reach the last response")
    assert await failures() == before + 1
    summary = (await apps["recommend"].get("/v1/admin/learning/summary")).json()
    arm = "holdout" if answer["holdout"] else "learned"
    assert summary["arms"][arm]["responses"] >= 1
    assert summary[f"{arm}_rate"] is not None


async def test_complaint_changes_the_next_answer_to_service_recovery(apps: Apps) -> None:
    """Before the complaint: sales offers; after it is posted: service recovery first, no sales."""
    loyalty_id = await new_member(apps, category="fitness")
    before = await next_offers(apps, loyalty_id, channel="call_centre", limit=10)
    assert before["segment"] != "complaint-open"
    assert all(offer["kind"] != "service-recovery" for offer in before["offers"])

    complaint = {
        "complaint_id": f"k-{uuid.uuid4().hex[:6]}",
        "category": "delivery",
        "severity": "high",
        "text": "The parcel arrived broken.",
    }
    await post_event(apps, event("complaint", loyalty_id, complaint, channel="call_centre"))

    async def complaint_visible() -> bool:
        view = await profile_view(apps, loyalty_id)
        return bool(view and view["open_complaints"])

    await wait_until(complaint_visible, what="the profile to show the open complaint")
    after = await next_offers(apps, loyalty_id, channel="call_centre", limit=10)
    assert after["segment"] == "complaint-open"
    assert after["offers"][0]["kind"] == "service-recovery"
    assert after["offers"][0]["pinned"] == "open_complaint"
    assert all(offer["kind"] == "service-recovery" for offer in after["offers"])
    assert any("open complaint about delivery" in r for r in after["offers"][0]["reasons"])


async def test_unknown_customer_gets_the_channel_default(apps: Apps) -> None:
    """An unknown loyalty id at the till: the membership offer, not an error."""
    answer = await next_offers(apps, new_loyalty_id(), channel="pos")
    assert answer["known_customer"] is False
    assert answer["offers"][0]["offer_id"] == "join-today"
    assert answer["event_logged"] is False


async def test_bad_requests_are_named(apps: Apps) -> None:
    """A malformed phone, an unknown channel or two identifiers give a 422 naming the field."""
    client = apps["recommend"]
    phone = await client.get(
        "/v1/customers/lookup/next-offers", params={"phone": "abc", "channel": "pos"}
    )
    assert phone.status_code == 422
    assert phone.json()["detail"][0]["loc"] == ["query", "phone"]
    channel = await client.get("/v1/customers/c-1/next-offers", params={"channel": "fax"})
    assert channel.status_code == 422
    assert "channel" in channel.text
    both = await client.get(
        "/v1/customers/lookup/next-offers",
        params={"phone": "13812345678", "loyalty_id": "x", "channel": "pos"},
    )
    assert both.status_code == 422
    assert "exactly one" in both.json()["detail"][0]["msg"]


async def test_control_characters_in_identifiers_never_give_500(apps: Apps) -> None:
    """A NUL in a customer_id path or an identifier query is a 4xx, not a database error."""
    client = apps["recommend"]
    path = await client.get("/v1/customers/a%00b/next-offers", params={"channel": "pos"})
    assert path.status_code == 422, path.text
    assert path.json()["detail"][0]["loc"] == ["path", "customer_id"]
    for params in ({"loyalty_id": "L\x00"}, {"email": "a\x00@example.com"}):
        answer = await client.get(
            "/v1/customers/lookup/next-offers", params={**params, "channel": "pos"}
        )
        assert answer.status_code < 500, (params, answer.text)


async def test_erasure_unlinks_the_customers_decisions(apps: Apps, db: AsyncEngine) -> None:
    """After an erase event, no decision or contact row names the customer any more."""
    loyalty_id = await new_member(apps)
    answer = await next_offers(apps, loyalty_id, channel="pos")
    customer_id = answer["customer_id"]
    await post_event(apps, event("erase", loyalty_id, {"reason": "customer request"}))

    async def unlinked() -> bool:
        async with db.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT (SELECT count(*) FROM recommend_decisions WHERE customer_id = :c)"
                    " + (SELECT count(*) FROM recommend_contacts WHERE customer_id = :c)"
                ),
                {"c": customer_id},
            )
            return rows.scalar_one() == 0

    await wait_until(unlinked, what="the learner to fold the erasure")
    assert await customer_id_of(db, answer["decision_id"]) is None
