"""The FastAPI dependency every non-ops endpoint declares: a valid key, its scope, its rate."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter

from touchpoint_common.access.models import Principal, Scope
from touchpoint_common.access.service import KeyCache, missing_scope
from touchpoint_common.access.settings import AccessSettings
from touchpoint_common.db.errors import is_outage

Guard = Callable[..., Awaitable[Principal]]
OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="touchpoint"'}


class AccessGate:
    """Per app: the key cache and the per-key rate limiter."""

    def __init__(self, settings: AccessSettings) -> None:
        self.settings = settings
        self.keys = KeyCache(settings.key_cache_ttl_s)
        # The asyncio storage expires windows in a task; the threaded one starts a timer
        # thread every few milliseconds under load.
        self._limiter = FixedWindowRateLimiter(MemoryStorage())

    async def admit(self, principal: Principal) -> int | None:
        """None when the key is within its rate, else the seconds until it may retry."""
        per_second = principal.rate_per_second or self.settings.rate_per_second
        window = self.settings.rate_burst_seconds
        item = RateLimitItemPerSecond(per_second * window, window)
        if await self._limiter.hit(item, principal.key_id):
            return None
        reset_at, _ = await self._limiter.get_window_stats(item, principal.key_id)
        return max(1, int(reset_at - time.time() + 0.999))


def get_gate(request: Request) -> AccessGate:
    """The app's gate, made on first use."""
    gate: AccessGate | None = getattr(request.app.state, "access_gate", None)
    if gate is None:
        gate = AccessGate(AccessSettings())
        request.app.state.access_gate = gate
    return gate


# Declares the scheme in OpenAPI (the Authorize button of /docs); the guard answers itself.
_BEARER = HTTPBearer(auto_error=False, description="An API key: tp_<key id>_<secret>")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]


def require_scopes(*needed: Scope) -> Guard:
    """A dependency: 401 without a valid key, 403 naming the scope when it holds none of
    `needed`, 429 with Retry-After over its rate; sets request.state.api_key (a Principal)."""

    async def guard(request: Request, credentials: Credentials) -> Principal:
        token = credentials.credentials.strip() if credentials is not None else ""
        if not token:
            raise HTTPException(401, "missing API key (Authorization: Bearer <key>)", _CHALLENGE)
        gate = get_gate(request)
        try:
            principal = await gate.keys.resolve(token, request.app.state.runtime.sessions)
        except Exception as exc:
            if is_outage(exc):
                raise HTTPException(503, "key check unavailable", {"Retry-After": "1"}) from exc
            raise
        if principal is None:
            raise HTTPException(401, "invalid or revoked API key", _CHALLENGE)
        request.state.api_key = principal
        lacking = missing_scope(principal, needed)
        if lacking is not None:
            raise HTTPException(403, f"missing scope {lacking}")
        retry_after = await gate.admit(principal)
        if retry_after is not None:
            raise HTTPException(
                429, "rate limit exceeded for this key", {"Retry-After": str(retry_after)}
            )
        return principal

    guard.required_scopes = needed  # type: ignore[attr-defined]
    return guard


def get_principal(request: Request) -> Principal:
    """The key of the current request (after its guard ran)."""
    principal: Principal = request.state.api_key
    return principal
