"""End to end on the real broker and database: a complaint's life, notes and commitments posted
through ingest show in the view (status, owner, due, overdue, closed figures); their texts are
sealed in Kafka and in the view, and opened only by the audited private read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.keys import bearer, create_token
from tests.integration.profile.test_api import eventually, random_cn_mobile, serve
from tests.integration.profile.test_through_ingest import posted, serve_ingest
from touchpoint_common.access.models import Scope
from touchpoint_common.kafka.consumer import create_consumer
from touchpoint_profile.settings import ProfileSettings

pytestmark = pytest.mark.integration
SECRETS = {
    "old": "parcel left at 5 Secret Road, flat 2",
    "key_points": "furious, teapot cracked, wants it by Friday",
    "reason": "third complaint this month, VIP customer",
    "remedy": "courier replacement plus voucher 50",
    "resolution": "replacement delivered to her office",
    "comment": "the courier was rude but the teapot is fine",
    "note": "quoted 89.90 for the lid over the phone",
    "promise": "call back Thursday noon with the courier answer",
    "visit_promise": "hold the blue glaze set until Saturday",
}


def at(now: datetime, **ago: float) -> str:
    """An occurred_at this long before now."""
    return (now - timedelta(**ago)).isoformat()


def lifecycle(phone: str, now: datetime) -> list[dict[str, Any]]:
    """Three complaints (one overdue, one escalated, one resolved and followed up before its
    opening arrives), a call with a note and a commitment, a visit's commitment kept."""
    care = {"channel": "call_centre", "agent_id": "agent-7"}

    def event(kind: str, payload: dict[str, Any], **ago: float) -> dict[str, Any]:
        body = posted(kind, phone, payload, **care)
        body["occurred_at"] = at(now, **ago)
        return body

    visit = posted(
        "store_visit",
        phone,
        {
            "zone": "teaware",
            "commitment": {
                "commitment_id": "C-2",
                "text": SECRETS["visit_promise"],
                "due_at": (now + timedelta(days=2)).isoformat(),
            },
        },
        channel="store",
        store_id="12",
    )
    return [
        event(
            "complaint",
            {
                "complaint_id": "K-OLD",
                "category": "delivery",
                "severity": "high",
                "text": SECRETS["old"],
            },
            hours=30,
        ),
        event(
            "complaint",
            {
                "complaint_id": "K-NEW",
                "category": "damaged_goods",
                "severity": "critical",
                "text": SECRETS["key_points"],
            },
            hours=1,
        ),
        event("complaint_assigned", {"complaint_id": "K-NEW", "owner": "agent-7"}, minutes=50),
        event(
            "complaint_escalated",
            {"complaint_id": "K-NEW", "escalated_to": "duty-manager", "reason": SECRETS["reason"]},
            minutes=40,
        ),
        event(
            "complaint_remedy", {"complaint_id": "K-NEW", "remedy": SECRETS["remedy"]}, minutes=45
        ),
        event(
            "complaint_follow_up",
            {"complaint_id": "K-DONE", "satisfaction": 5, "comment": SECRETS["comment"]},
            minutes=10,
        ),
        event(
            "complaint_resolved",
            {"complaint_id": "K-DONE", "resolution": SECRETS["resolution"]},
            minutes=20,
        ),
        event(
            "complaint",
            {"complaint_id": "K-DONE", "category": "billing", "severity": "medium"},
            hours=10,
        ),
        event(
            "call",
            {
                "reason": "parcel",
                "duration_seconds": 300,
                "outcome": "callback",
                "note": SECRETS["note"],
                "commitment": {
                    "commitment_id": "C-1",
                    "text": SECRETS["promise"],
                    "due_at": (now + timedelta(days=1)).isoformat(),
                },
            },
            minutes=30,
        ),
        visit,
        event("commitment_fulfilled", {"commitment_id": "C-2"}, minutes=5),
    ]


async def read_all_values(settings: ProfileSettings, count: int, timeout_s: float = 20) -> bytes:
    """The values of the first `count` records of the test's interactions topic, joined."""
    reader = create_consumer(settings, settings.topic_interactions, group_id=None)
    await reader.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(values) < count:
                batch = await reader.getmany(timeout_ms=500)
                values += [record.value or b"" for records in batch.values() for record in records]
    finally:
        await reader.stop()
    return b"\n".join(values)


def counts_overdue_high(since: float) -> Callable[[Any], bool]:
    """Accepts a /metrics answer counted after `since` with at least one overdue high
    complaint (other tests share the database, so at least)."""

    def accept(response: Any) -> bool:
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }
        counted_at = samples.get(("touchpoint_complaints_counted_timestamp_seconds", ()), 0)
        overdue = samples.get(("touchpoint_complaints_overdue", (("severity", "high"),)), 0)
        return counted_at > since and overdue >= 1

    return accept


def settled(response: Any) -> bool:
    """Every event of the lifecycle is folded."""
    if response.status_code != 200:
        return False
    view = response.json()
    statuses = {c["complaint_id"]: c["status"] for c in view["open_complaints"]}
    return (
        statuses == {"K-OLD": "open", "K-NEW": "escalated"}
        and [c["satisfaction"] for c in view["closed_complaints"]] == [5]
        and [c["category"] for c in view["closed_complaints"]] == ["billing"]
        and [c["commitment_id"] for c in view["commitments"]] == ["C-1"]
        and len(view["timeline"]) == 11
    )


async def test_complaint_life_notes_and_commitments_through_ingest(
    profile_settings: ProfileSettings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The view shows status, owner, escalation, due time and overdue (overdue first), the
    closed complaint's satisfaction and time to resolve, the open commitment (the kept one
    gone); no text in clear in the view nor in any Kafka record; the private read opens every
    text for profiles:read_pii only and is audited with the fields it revealed; /metrics counts
    the overdue complaint."""
    profile_settings = profile_settings.model_copy(update={"complaints_overdue_interval_s": 0.2})
    phone, now = random_cn_mobile(), datetime.now(UTC)
    bodies = lifecycle(phone, now)
    pii_reader = bearer(
        await create_token(profile_settings.database_url, {Scope.PROFILES_READ_PII})
    )
    plain_reader = bearer(await create_token(profile_settings.database_url, {Scope.PROFILES_READ}))
    async with serve_ingest(profile_settings) as ingest, serve(profile_settings) as profile:
        for body in bodies:
            answer = await ingest.post("/v1/events", json=body)
            assert answer.status_code == 202, answer.text
        found = await eventually(
            lambda: profile.get("/v1/customers/lookup", params={"phone": phone}), settled
        )
        view = found.json()
        customer_id = view["customer_id"]
        refused = await profile.get(f"/v1/customers/{customer_id}/private", headers=plain_reader)
        private = await profile.get(f"/v1/customers/{customer_id}/private", headers=pii_reader)
        unknown = await profile.get("/v1/customers/nobody-here/private", headers=pii_reader)
        await eventually(lambda: profile.get("/metrics"), counts_overdue_high(time.time()))
    old, new = view["open_complaints"]
    assert (old["complaint_id"], old["overdue"], old["owner"]) == ("K-OLD", True, None)
    assert datetime.fromisoformat(old["due_at"]) == datetime.fromisoformat(
        at(now, hours=30)
    ) + timedelta(hours=24)
    assert old["age_hours"] == 30
    assert (new["complaint_id"], new["overdue"], new["status"]) == ("K-NEW", False, "escalated")
    assert (new["owner"], new["escalated_to"]) == ("agent-7", "duty-manager")
    assert datetime.fromisoformat(new["due_at"]) == datetime.fromisoformat(
        at(now, hours=1)
    ) + timedelta(hours=4)
    [closed] = view["closed_complaints"]
    assert closed["hours_to_resolve"] == pytest.approx(9.67, abs=0.01)
    [promised] = view["commitments"]
    assert (promised["status"], promised["agent_id"], promised["channel"]) == (
        "open",
        "agent-7",
        "call_centre",
    )
    for secret in SECRETS.values():
        assert secret not in found.text
    assert refused.status_code == 403
    assert "profiles:read_pii" in refused.json()["detail"]
    assert unknown.status_code == 404
    assert private.status_code == 200, private.text
    revealed = private.json()
    assert revealed["identifiers"] == [
        {"kind": "phone", "value": "+86" + phone.replace(" ", "").removeprefix("+86")}
    ]
    texts = {c["complaint_id"]: c for c in revealed["complaints"]}
    assert texts["K-NEW"]["key_points"] == SECRETS["key_points"]
    assert texts["K-NEW"]["escalation_reason"] == SECRETS["reason"]
    assert texts["K-NEW"]["remedy"] == SECRETS["remedy"]
    assert texts["K-DONE"]["resolution"] == SECRETS["resolution"]
    assert texts["K-DONE"]["follow_up_comment"] == SECRETS["comment"]
    assert texts["K-DONE"]["key_points"] is None
    assert {c["commitment_id"]: c["text"] for c in revealed["commitments"]} == {
        "C-1": SECRETS["promise"],
        "C-2": SECRETS["visit_promise"],
    }
    [note] = revealed["notes"]
    assert (note["note"], note["agent_id"]) == (SECRETS["note"], "agent-7")
    records = await read_all_values(profile_settings, len(bodies))
    for secret in SECRETS.values():
        assert secret.encode() not in records
    assert b"_sealed" in records
    async with sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT fields FROM audit_log WHERE action = 'profile.private' "
                    "AND customer_id = :id"
                ),
                {"id": customer_id},
            )
        ).all()
    assert [sorted(row.fields) for row in rows] == [
        sorted(
            [
                "identifiers.unmasked",
                "complaint.key_points",
                "complaint.escalation_reason",
                "complaint.remedy",
                "complaint.resolution",
                "complaint.follow_up_comment",
                "commitment.text",
                "note",
            ]
        )
    ]
