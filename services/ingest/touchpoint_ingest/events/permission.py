"""The identity-link permission of a request, from the API key that sent it.

An event may link identifiers across customers, merge or unmerge only when its sender holds
the `identity:link` scope (the web login, the CRM back office; never a till). The access
layer also refuses `identify` and `unmerge` events outright from keys without it; this flag
is the ingest rules' own check, so a request that reached them without a key (none does in
the services) gets the safe default: no cross-customer link, merge or unmerge.
"""

from __future__ import annotations

from fastapi import Request

from touchpoint_common.access.models import Principal, Scope


def sender_may_link(request: Request) -> bool:
    """Whether the request's key holds `identity:link` (False without a key)."""
    principal = getattr(request.state, "api_key", None)
    return isinstance(principal, Principal) and str(Scope.IDENTITY_LINK) in principal.scopes
