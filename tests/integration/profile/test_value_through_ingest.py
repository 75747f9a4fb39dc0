"""End to end: a survey, points and a purchase with item costs posted through ingest reach
the profile view as satisfaction, points balance, profit and lifetime figures; the survey
comment never does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.profile.test_api import eventually, random_cn_mobile, serve
from tests.integration.profile.test_through_ingest import posted, serve_ingest
from touchpoint_profile.settings import ProfileSettings

pytestmark = pytest.mark.integration


async def test_survey_points_and_profit_through_ingest(profile_settings: ProfileSettings) -> None:
    """CSAT 2 / NPS 4 with a comment, +120 points on a stated 900, a purchase of 200 with unit
    cost 150 (profit 50): the view shows them; the comment stays sealed; an out-of-range NPS is
    refused naming the field."""
    phone = random_cn_mobile()
    secret = "call me on my private number"
    survey = posted("survey", phone, {"csat": 2, "nps": 4, "comment": secret}, channel="email")
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    stated = posted(
        "membership", phone, {"action": "points", "points_balance": 900}, occurred_at=an_hour_ago
    )
    earned = posted("membership", phone, {"action": "points", "points_delta": 120})
    item = {"sku": "t1", "category": "tents", "quantity": 1, "unit_price": "200.00",
            "unit_cost": "150.00"}  # fmt: skip
    bought = posted(
        "purchase", phone, {"order_id": "A-7", "amount": "200.00", "currency": "CNY",
                            "items": [item]},
    )  # fmt: skip
    async with serve_ingest(profile_settings) as ingest, serve(profile_settings) as profile:
        for body in (survey, stated, earned, bought):
            answer = await ingest.post("/v1/events", json=body)
            assert answer.status_code == 202, answer.text
        refused = await ingest.post(
            "/v1/events", json=posted("survey", phone, {"nps": 11}, channel="email")
        )
        assert refused.status_code == 422
        assert "nps" in refused.text
        digits = phone.replace(" ", "").removeprefix("+86")
        response = await eventually(
            lambda: profile.get("/v1/customers/lookup", params={"phone": digits}),
            lambda r: (
                r.status_code == 200
                and r.json()["lifetime"]["purchases"] == 1
                and r.json()["satisfaction"] is not None
                and r.json()["points_balance"] == 1020
            ),
        )
    view = response.json()
    assert (view["satisfaction"]["latest_csat"], view["satisfaction"]["latest_nps"]) == (2, 4)
    assert view["profit"] == "50.00"
    assert view["lifecycle"] == "new_buyer"
    assert view["tier"] == "B"
    assert secret not in response.text
