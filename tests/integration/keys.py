"""API keys for tests: created with the service function on the session's real database."""

from __future__ import annotations

from collections.abc import Iterable

from touchpoint_common.access.models import ALL_SCOPES, KeyIn, Scope
from touchpoint_common.access.service import create_key
from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_common.settings import CommonSettings

_all_scopes_tokens: dict[str, str] = {}


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
    engine = create_engine(CommonSettings(database_url=database_url))
    try:
        async with create_session_factory(engine)() as session, session.begin():
            created = await create_key(
                db_session=session,
                key=KeyIn(
                    name=name,
                    scopes=sorted(scopes),
                    store_ids=store_ids,
                    event_types=event_types,
                    rate_per_second=rate_per_second,
                ),
            )
    finally:
        await engine.dispose()
    return created.token


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
