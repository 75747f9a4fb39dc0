"""Unit tests for identifier normalisation, keyed hashing, sealing and masking."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given
from hypothesis import strategies as st

from touchpoint_common.identity import pii

KEY = b"k" * 32


@pytest.mark.parametrize(
    "raw", ["+86 138 1234 5678", "13812345678", "(+86) 138-1234-5678", "0086 13812345678"]
)
def test_phone_formats_normalise_to_one_e164(raw: str) -> None:
    """Any common way of writing the same number gives the same E.164 string."""
    assert pii.normalize_phone(raw, default_region="CN") == "+8613812345678"


def test_invalid_phone_is_refused() -> None:
    """A string that is not a dialable number raises InvalidIdentifier."""
    with pytest.raises(pii.InvalidIdentifier):
        pii.normalize_phone("12", default_region="CN")


def test_email_is_trimmed_and_lowercased() -> None:
    """E-mails differing only in case and spaces key the same."""
    assert pii.normalize_email("  Li.Wei@Example.COM ") == "li.wei@example.com"


def test_digest_depends_on_kind_value_and_key() -> None:
    """The HMAC separates kinds and keys, so a loyalty id can't collide with a phone."""
    a = pii.digest_identifier("phone", "+8613812345678", key=KEY)
    assert a == pii.digest_identifier("phone", "+8613812345678", key=KEY)
    assert a != pii.digest_identifier("loyalty_id", "+8613812345678", key=KEY)
    assert a != pii.digest_identifier("phone", "+8613812345678", key=b"x" * 32)
    assert "13812345678" not in a


@given(st.text(max_size=200))
def test_seal_round_trips_and_is_bound_to_key(plain: str) -> None:
    """A sealed value opens with its key and context, and not with another key."""
    key = pii.new_data_key()
    token = pii.seal(plain, data_key=key, context="phone")
    assert pii.open_sealed(token, data_key=key, context="phone") == plain
    with pytest.raises(InvalidTag):
        pii.open_sealed(token, data_key=pii.new_data_key(), context="phone")


def test_wrapped_key_unwraps_only_with_kek() -> None:
    """Data keys at rest need the key-encryption key."""
    data_key = pii.new_data_key()
    wrapped = pii.wrap_key(data_key, kek=KEY)
    assert pii.unwrap_key(wrapped, kek=KEY) == data_key
    with pytest.raises(InvalidTag):
        pii.unwrap_key(wrapped, kek=b"z" * 32)


def test_masks_hide_the_middle() -> None:
    """The call-centre display shape from the issue: +86 138****5678."""
    assert pii.mask_phone("+8613812345678") == "+86 138****5678"
    assert pii.mask_email("li.wei@example.com") == "l****@example.com"
