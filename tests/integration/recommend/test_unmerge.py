"""The takeover that fails, and the merge that is undone: identity, profile and recommend."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.recommend.conftest import (
    customer_id_of,
    event,
    new_member,
    next_offers,
    post_event,
    profile_view,
    purchase,
    wait_until,
)

pytestmark = pytest.mark.integration
Apps = dict[str, httpx.AsyncClient]


def identify(loyalty_id: str, link_loyalty_id: str) -> dict[str, Any]:
    """An identify naming one member and linking another's loyalty id."""
    return event("identify", loyalty_id, {"link": {"loyalty_id": link_loyalty_id}}, "web")


async def view_is(
    apps: Apps, loyalty_id: str, customer_id: str, purchases: int, spend: str
) -> bool:
    """Whether the profile view by loyalty id is this customer with these purchase figures."""
    view = await profile_view(apps, loyalty_id)
    return bool(
        view
        and view["customer_id"] == customer_id
        and view["rfm"]["frequency"] == purchases
        and Decimal(str(view["rfm"]["monetary"])) == Decimal(spend)
    )


async def test_takeover_fails_and_an_unmerge_restores_both_customers(
    apps: Apps, db: AsyncEngine
) -> None:
    """A till (no identity:link) cannot link a victim's loyalty id to its own: 403, nothing
    moves. With identity:link the merge happens (profile and recommend follow), and an
    unmerge gives each customer back its identifiers, its own purchase figures and its
    recommend contacts."""
    victim_loyalty = await new_member(apps, "outdoor")
    other_loyalty = await new_member(apps, "tea")
    await post_event(apps, event("purchase", other_loyalty, purchase("tea", Decimal("30.00"))))
    victim = (await next_offers(apps, victim_loyalty))["customer_id"]
    decision = await next_offers(apps, other_loyalty)
    other = decision["customer_id"]
    assert victim != other
    await wait_until(
        lambda: view_is(apps, other_loyalty, other, 2, "150.00"), what="the second purchase"
    )

    grab = await apps["till"].post("/v1/events", json=identify(other_loyalty, victim_loyalty))
    assert grab.status_code == 403, grab.text
    assert "identity:link" in grab.json()["detail"]
    assert await view_is(apps, victim_loyalty, victim, 1, "120.00")

    await post_event(apps, identify(victim_loyalty, other_loyalty))
    await wait_until(
        lambda: view_is(apps, other_loyalty, victim, 3, "270.00"), what="the merge in the view"
    )

    async def contacts_with(customer_id: str) -> bool:
        return await customer_id_of(db, decision["decision_id"]) == customer_id

    await wait_until(lambda: contacts_with(victim), what="recommend to merge the contacts")

    unmerge = event("unmerge", victim_loyalty, {"customer_id": other}, "web")
    refused = await apps["till"].post("/v1/events", json=unmerge)
    assert refused.status_code == 403, refused.text
    await post_event(apps, unmerge)
    await wait_until(
        lambda: view_is(apps, other_loyalty, other, 2, "150.00"), what="the loser's view back"
    )
    assert await view_is(apps, victim_loyalty, victim, 1, "120.00")
    await wait_until(lambda: contacts_with(other), what="recommend to move the contacts back")
