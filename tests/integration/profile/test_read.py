"""The profile's public read API (touchpoint_profile.read) on the real database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.profile.test_api import mint_customer, random_cn_mobile
from tests.unit.profile.factories import NOW, call, complaint, purchase
from touchpoint_common.identity import pii
from touchpoint_profile.customers.service import get_customer_view
from touchpoint_profile.fold.fold import fold_many
from touchpoint_profile.fold.state import CustomerState, new_state
from touchpoint_profile.projection.postgres import PostgresProjection
from touchpoint_profile.read import FoldRulesSettings, ProfileFigures, get_customer_profile
from touchpoint_profile.settings import ProfileSettings

pytestmark = pytest.mark.integration


class DecryptCounter:
    """Counts calls of the PII functions that decrypt (unwrap a data key, open a sealed value)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        for name in ("unwrap_key", "open_sealed"):
            monkeypatch.setattr(pii, name, self._counting(getattr(pii, name)))

    def _counting(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return function(*args, **kwargs)

        return counted


async def customer_with_history(
    sessions: async_sessionmaker[AsyncSession], settings: ProfileSettings
) -> tuple[str, str]:
    """(customer_id, phone): known by a phone in the identity tables, one purchase, a complaint
    and a call with a note and a commitment (sealed texts in the state) folded."""
    phone = random_cn_mobile()
    customer_id = await mint_customer(sessions, settings, phone)
    history = [
        purchase(days_ago=2, customer_id=customer_id),
        complaint("K-1", customer_id=customer_id, days_ago=1),
        call(commitment_id="P-1", customer_id=customer_id, days_ago=1),
    ]
    state = fold_many(new_state(customer_id), history, NOW)
    async with sessions() as session, session.begin():
        await PostgresProjection(session).put_states([state])
    return customer_id, phone


async def test_read_api_has_no_identifiers_and_decrypts_nothing(
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The typed view other services read carries no identifiers and never calls a decrypt,
    though the state holds sealed complaint, note and commitment texts."""
    customer_id, phone = await customer_with_history(sessions, profile_settings)
    decrypts = DecryptCounter(monkeypatch)
    async with sessions() as session:
        profile = await get_customer_profile(
            db_session=session,
            customer_id=customer_id,
            now=NOW,
            rules=FoldRulesSettings().profile_rules,
        )
        assert decrypts.calls == 0
        own_view = await get_customer_view(
            db_session=session, customer_id=customer_id, now=NOW, settings=profile_settings
        )
    assert decrypts.calls > 0, "the profile's own API does open identifiers (masked)"
    assert isinstance(profile, ProfileFigures)
    assert "identifiers" not in ProfileFigures.model_fields
    assert phone.replace(" ", "")[-8:] not in profile.model_dump_json()
    assert own_view is not None
    assert len(own_view.identifiers) == 1
    assert own_view.model_dump(exclude={"identifiers"}) == profile.model_dump()
    assert profile.rfm.frequency == 1
    assert [c.complaint_id for c in profile.open_complaints] == ["K-1"]
    assert [c.commitment_id for c in profile.commitments] == ["P-1"]


async def test_read_api_works_after_the_data_key_is_shredded(
    profile_settings: ProfileSettings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """With the customer's data key shredded nothing can be decrypted; the read API answers."""
    customer_id, _ = await customer_with_history(sessions, profile_settings)
    async with sessions() as session, session.begin():
        await session.execute(
            text("DELETE FROM customer_keys WHERE customer_id = :id"), {"id": customer_id}
        )
    async with sessions() as session:
        profile = await get_customer_profile(
            db_session=session,
            customer_id=customer_id,
            now=NOW,
            rules=profile_settings.profile_rules,
        )
        own_view = await get_customer_view(
            db_session=session, customer_id=customer_id, now=NOW, settings=profile_settings
        )
    assert profile is not None
    assert profile.customer_id == customer_id
    assert own_view is not None
    assert own_view.identifiers == []


async def test_read_api_follows_projection_merges_and_hides_the_unknown(
    profile_settings: ProfileSettings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A merged id reads as its survivor; a pointer loop or an unknown id reads as None."""
    customer_id, _ = await customer_with_history(sessions, profile_settings)
    merged, loop_a, loop_b = (f"read-{uuid.uuid4().hex[:8]}" for _ in range(3))
    pointers = [
        CustomerState(customer_id=merged, merged_into=customer_id),
        CustomerState(customer_id=loop_a, merged_into=loop_b),
        CustomerState(customer_id=loop_b, merged_into=loop_a),
    ]
    async with sessions() as session, session.begin():
        await PostgresProjection(session).put_states(pointers)
    rules = profile_settings.profile_rules
    async with sessions() as session:
        via_merged = await get_customer_profile(
            db_session=session, customer_id=merged, now=NOW, rules=rules
        )
        looped = await get_customer_profile(
            db_session=session, customer_id=loop_a, now=NOW, rules=rules
        )
        unknown = await get_customer_profile(
            db_session=session, customer_id="nobody-at-all", now=NOW, rules=rules
        )
    assert via_merged is not None
    assert via_merged.customer_id == customer_id
    assert looped is None
    assert unknown is None
