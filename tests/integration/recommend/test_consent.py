"""Consent on the real services: a withdrawal posted through ingest, folded by the profile,
removes marketing offers on that channel only; service recovery stays; the answer says why."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.recommend.conftest import (
    consent,
    event,
    new_member,
    next_offers,
    post_event,
    profile_view,
    wait_until,
)
from touchpoint_recommend.loader import load_default_config

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
Apps = dict[str, httpx.AsyncClient]
EXEMPT = "service-recovery"


def _marketing(answer: dict[str, Any]) -> list[str]:
    return [offer["offer_id"] for offer in answer["offers"] if offer["kind"] != EXEMPT]


async def _withdraw_marketing_on_pos(apps: Apps, loyalty_id: str) -> None:
    """Post the withdrawal and wait until the view shows it."""
    withdrawal = consent("marketing", "pos", "withdrawn")
    await post_event(apps, event("consent", loyalty_id, withdrawal, channel="pos"))

    async def folded() -> bool:
        view = await profile_view(apps, loyalty_id)
        standings = {(c["purpose"], c["channel"]): c["status"] for c in (view or {})["consents"]}
        return standings.get(("marketing", "pos")) == "withdrawn"

    await wait_until(folded, what="the profile to fold the withdrawal")


async def test_withdrawal_on_pos_removes_marketing_there_but_not_on_web(apps: Apps) -> None:
    """Before: marketing offers at the till. After withdrawing on pos: none at the till, each
    listed in consent_removed with the reason; the web (granted) still gets marketing."""
    loyalty_id = await new_member(apps, opted_in=("pos", "web"))
    before = await next_offers(apps, loyalty_id, channel="pos", limit=10)
    assert _marketing(before)
    assert before["consent_removed"] == []

    await _withdraw_marketing_on_pos(apps, loyalty_id)
    view = await profile_view(apps, loyalty_id)
    assert view is not None
    assert {"purpose": "marketing", "channel": "web", "status": "granted"}.items() <= next(
        c for c in view["consents"] if (c["purpose"], c["channel"]) == ("marketing", "web")
    ).items()

    at_till = await next_offers(apps, loyalty_id, channel="pos", limit=10)
    assert _marketing(at_till) == []
    removed = {item["offer_id"]: item["reason"] for item in at_till["consent_removed"]}
    assert set(_marketing(before)) <= set(removed)
    assert set(removed.values()) == {"marketing consent withdrawn on channel pos"}

    on_web = await next_offers(apps, loyalty_id, channel="web", limit=10)
    assert _marketing(on_web)
    assert on_web["consent_removed"] == []

    on_phone = await next_offers(apps, loyalty_id, channel="call_centre", limit=10)
    assert _marketing(on_phone) == []
    assert {item["reason"] for item in on_phone["consent_removed"]} == {
        "no marketing consent on channel call_centre"
    }


async def test_service_recovery_is_still_offered_after_withdrawal(apps: Apps) -> None:
    """A complaint opened after the withdrawal still brings service recovery at the till."""
    loyalty_id = await new_member(apps, opted_in=("pos",))
    await _withdraw_marketing_on_pos(apps, loyalty_id)
    complaint = {"complaint_id": "k-consent", "category": "delivery", "severity": "high"}
    await post_event(apps, event("complaint", loyalty_id, complaint, channel="call_centre"))

    async def complaint_open() -> bool:
        view = await profile_view(apps, loyalty_id)
        return bool(view and view["open_complaints"])

    await wait_until(complaint_open, what="the complaint to be folded")
    answer = await next_offers(apps, loyalty_id, channel="pos", limit=10)
    recovery = {o.id for o in load_default_config().catalogue if o.kind == EXEMPT}
    offered = [offer["offer_id"] for offer in answer["offers"]]
    assert offered
    assert set(offered) <= recovery
    assert answer["consent_removed"]
