"""The identity-link permission of a request: the one hook the auth layer sets.

An event may link identifiers across customers, merge or unmerge only when its sender holds
the `identity:link` scope. The auth layer (not this package) decides that from the API key
and records it on the request as `request.state.may_link = True`; anything else, including
no auth layer at all, leaves the safe default: no cross-customer link, merge or unmerge.
"""

from __future__ import annotations

from fastapi import Request

IDENTITY_LINK_SCOPE = "identity:link"
MAY_LINK_STATE = "may_link"


def sender_may_link(request: Request) -> bool:
    """Whether the auth layer granted this request `identity:link` (False unless it did)."""
    return getattr(request.state, MAY_LINK_STATE, False) is True
