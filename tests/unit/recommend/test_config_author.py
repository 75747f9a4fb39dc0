"""Who a stored config version is attributed to: the API key id, else the header, else unknown."""

from __future__ import annotations

from types import SimpleNamespace

from starlette.requests import Request

from touchpoint_recommend.configuration.views import get_author


def _request(headers: dict[str, str], key_id: str | None = None) -> Request:
    """A bare request with these headers and, when given, an authenticated key."""
    scope = {
        "type": "http",
        "method": "PUT",
        "path": "/v1/admin/config",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
    }
    request = Request(scope)
    if key_id is not None:
        request.state.api_key = SimpleNamespace(key_id=key_id)
    return request


def test_the_key_id_wins_over_the_header() -> None:
    """An authenticated caller is recorded by key id; a header cannot pose as someone else."""
    request = _request({"X-Touchpoint-Author": "mallory"}, key_id="k-admin-1")
    assert get_author(request) == "k-admin-1"


def test_without_a_key_the_header_is_marked_as_a_claim() -> None:
    """The header is recorded with a prefix (a claim, not proof), stripped and bounded."""
    assert get_author(_request({"X-Touchpoint-Author": "  ops-li  "})) == "header:ops-li"
    long = get_author(_request({"X-Touchpoint-Author": "x" * 500}))
    assert long == "header:" + "x" * 200


def test_nobody_named_is_unknown() -> None:
    """No key and no (or a blank) header: 'unknown', never empty."""
    assert get_author(_request({})) == "unknown"
    assert get_author(_request({"X-Touchpoint-Author": "   "})) == "unknown"
