"""API keys for tests: created with the service function on the session's real database."""

from __future__ import annotations

from collections.abc import Iterable

from touchpoint_common.access.cli import create_key_at
from touchpoint_common.access.models import ALL_SCOPES, KeyIn, Scope
from touchpoint_common.settings import CommonSettings

_all_scopes_tokens: dict[str, str] = {}
TILL_SCOPES = (Scope.EVENTS_WRITE, Scope.OFFERS_RESPOND)
"""What a till's key holds: it posts its sales and offer answers, never links or erases."""


async def create_token(
    database_url: str,
    scopes: Iterable[Scope] = ALL_SCOPES,
    *,
    name: str = "test",
    store_ids: list[str] | None = None,
    event_types: list[str] | None = None,
    rate_per_second: int | None = None,
) -> str:
    """A new key's token, with these scopes and bindings, stored in the database at the URL."""
    key = KeyIn(
        name=name,
        scopes=sorted(scopes),
        store_ids=store_ids,
        event_types=event_types,
        rate_per_second=rate_per_second,
    )
    return (await create_key_at(database_url, key)).token


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


async def all_scopes_headers(settings: CommonSettings) -> dict[str, str]:
    """Headers with a key holding every scope, one per database for the whole session."""
    token = _all_scopes_tokens.get(settings.database_url)
    if token is None:
        token = await create_token(settings.database_url, name="test-all-scopes")
        _all_scopes_tokens[settings.database_url] = token
    return bearer(token)
