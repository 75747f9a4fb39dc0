"""Unit tests for identifier normalisation, keyed hashing, sealing and masking."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
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
    wrapped = pii.wrap_key(data_key, kek=KEY, customer_id="c-1")
    assert pii.unwrap_key(wrapped, kek=KEY, customer_id="c-1") == data_key
    with pytest.raises(InvalidTag):
        pii.unwrap_key(wrapped, kek=b"z" * 32, customer_id="c-1")


def test_wrapped_key_is_bound_to_its_customer() -> None:
    """A wrapped key copied to another customer does not open there (customer id is AAD)."""
    wrapped = pii.wrap_key(pii.new_data_key(), kek=KEY, customer_id="c-1")
    with pytest.raises(InvalidTag):
        pii.unwrap_key(wrapped, kek=KEY, customer_id="c-2")


def test_legacy_wraps_still_open_until_rewrapped() -> None:
    """A key wrapped before wraps named their customer (no AAD binding) is recognised."""
    data_key = pii.new_data_key()
    nonce = b"n" * 12
    legacy = nonce + AESGCM(KEY).encrypt(nonce, data_key, b"touchpoint-data-key")
    assert pii.is_legacy_wrap(legacy)
    assert not pii.is_legacy_wrap(pii.wrap_key(data_key, kek=KEY, customer_id="c-1"))
    assert pii.unwrap_key(legacy, kek=KEY, customer_id="anyone") == data_key


def test_key_ring_finds_current_and_older_keys_only() -> None:
    """A key ring answers the current id and older ids, and refuses an unknown id."""
    ring = pii.KeyRing(current_id="k2", current=b"2" * 32, older={"k1": b"1" * 32})
    assert ring.get("k2") == b"2" * 32
    assert ring.get("k1") == b"1" * 32
    with pytest.raises(pii.UnknownKeyId):
        ring.get("k0")


def test_masks_hide_the_middle() -> None:
    """The call-centre display shape from the issue: +86 138****5678."""
    assert pii.mask_phone("+8613812345678") == "+86 138****5678"
    assert pii.mask_email("li.wei@example.com") == "l****@example.com"
