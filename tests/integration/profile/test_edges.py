"""The profile API answers hand-made queries and paths with a 4xx naming them, never a 500."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.profile.conftest import Produce
from tests.integration.profile.test_api import (
    eventually,
    mint_customer,
    purchase_now,
    random_cn_mobile,
    serve,
)
from touchpoint_profile.settings import ProfileSettings

pytestmark = pytest.mark.integration

CALENDAR_EDGES = [
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59Z",
    "1900-01-01T00:00:00Z",
]


async def test_as_of_at_the_edges_of_the_calendar_is_422_at_as_of(
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    produce: Produce,
) -> None:
    """as_of that overflowed the decay or the windows (500 before) is refused by name."""
    phone = random_cn_mobile()
    customer_id = await mint_customer(sessions, profile_settings, phone)
    await produce([purchase_now(customer_id)])
    async with serve(profile_settings) as client:
        await eventually(
            lambda: client.get(f"/v1/customers/{customer_id}"), lambda r: r.status_code == 200
        )
        for as_of in CALENDAR_EDGES:
            for path, params in (
                (f"/v1/customers/{customer_id}", {"as_of": as_of}),
                ("/v1/customers/lookup", {"phone": phone, "as_of": as_of}),
            ):
                response = await client.get(path, params=params)
                assert response.status_code == 422, (as_of, response.text)
                assert response.json()["detail"][0]["loc"] == ["query", "as_of"]
        earliest = await client.get(
            f"/v1/customers/{customer_id}", params={"as_of": "1970-01-01T00:00:00Z"}
        )
        assert earliest.status_code == 200, earliest.text


async def test_control_characters_in_paths_and_queries_never_give_500(
    profile_settings: ProfileSettings,
) -> None:
    """A NUL in a customer_id or identifier is a 4xx naming it, not a database error."""
    async with serve(profile_settings) as client:
        for path, params in (
            ("/v1/customers/a%00b", {}),
            ("/v1/customers/a%00b/timeline", {}),
            ("/v1/customers/lookup", {"loyalty_id": "L\x00"}),
            ("/v1/customers/lookup", {"email": "a\x00@example.com"}),
            ("/v1/customers/lookup", {"phone": "139\x0012345678"}),
        ):
            response = await client.get(path, params=params)
            assert 400 <= response.status_code < 500, (path, params, response.text)
