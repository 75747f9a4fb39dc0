"""Pure rules of access control: token format, scope checks, till-key event rules, key cache."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from touchpoint_common.access.models import Principal, Scope
from touchpoint_common.access.service import (
    EVENT_POSTING_SCOPES,
    KeyCache,
    event_refusal,
    hash_secret,
    missing_scope,
    split_token,
)


def principal(
    *scopes: Scope,
    store_ids: frozenset[str] | None = None,
    event_types: frozenset[str] | None = None,
) -> Principal:
    """A principal with these scopes and bindings."""
    return Principal(
        key_id="k1",
        name="t",
        scopes=frozenset(map(str, scopes)),
        store_ids=store_ids,
        event_types=event_types,
    )


@given(st.text())
def test_split_token_never_raises_and_only_accepts_three_parts(token: str) -> None:
    """Any string either parses as tp_<id>_<secret> (all non-empty) or gives None."""
    parsed = split_token(token)
    if parsed is not None:
        key_id, secret = parsed
        assert token == f"tp_{key_id}_{secret}"
        assert key_id
        assert secret


def test_hash_is_stable_and_not_the_secret() -> None:
    """The stored form is a sha256 hex digest, the same each time, never the secret."""
    assert hash_secret("abc") == hash_secret("abc")
    assert len(hash_secret("abc")) == 64
    assert "abc" not in hash_secret("abc")


def test_missing_scope_names_the_first_needed_one() -> None:
    """Any one of the needed scopes is enough; without any, the first is named."""
    assert missing_scope(principal(Scope.EVENTS_ERASE), EVENT_POSTING_SCOPES) is None
    assert missing_scope(principal(Scope.ADMIN), EVENT_POSTING_SCOPES) == Scope.EVENTS_WRITE


def test_event_types_need_their_scopes() -> None:
    """identify needs identity:link, erase events:erase, offer_response offers:respond."""
    writer = principal(Scope.EVENTS_WRITE)
    assert event_refusal(writer, {"type": "purchase"}) is None
    for kind, scope in (
        ("identify", "identity:link"),
        ("erase", "events:erase"),
        ("offer_response", "offers:respond"),
    ):
        refusal = event_refusal(writer, {"type": kind})
        assert refusal is not None
        assert scope in refusal
    assert event_refusal(principal(Scope.IDENTITY_LINK), {"type": "identify"}) is None


def test_a_till_key_keeps_to_its_stores_and_types() -> None:
    """Store and type bindings refuse other stores, a missing store and other types."""
    till = principal(
        Scope.EVENTS_WRITE, store_ids=frozenset({"12"}), event_types=frozenset({"purchase"})
    )
    assert event_refusal(till, {"type": "purchase", "store_id": "12"}) is None
    assert event_refusal(till, {"type": "purchase", "store_id": "13"}) is not None
    assert event_refusal(till, {"type": "purchase"}) is not None
    assert event_refusal(till, {"type": "return", "store_id": "12"}) is not None


def test_key_cache_forgets_after_its_ttl() -> None:
    """A remembered check (even a refusal) is a hit until the TTL passes, then a miss."""
    cache = KeyCache(ttl_s=0.05)
    cache.put("a", principal(Scope.ADMIN))
    cache.put("b", None)
    assert cache.get("a")[0]
    assert cache.get("b") == (True, None)
    time.sleep(0.06)
    assert cache.get("a") == (False, None)
