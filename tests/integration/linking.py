"""Test stand-in for the auth layer's one identity decision: grant `identity:link`."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from touchpoint_ingest.events.permission import MAY_LINK_STATE


def granting_link(app: ASGIApp) -> ASGIApp:
    """`app` with every request marked as sent by a holder of `identity:link`."""

    async def granted(scope: Scope, receive: Receive, send: Send) -> None:
        """Set the request state the auth layer sets for a key with the scope."""
        if scope["type"] == "http":
            scope = {**scope, "state": {**scope.get("state", {}), MAY_LINK_STATE: True}}
        await app(scope, receive, send)

    return granted
