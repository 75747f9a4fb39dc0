"""Unit tests for the common settings' guard against published keys in production."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr, ValidationError

from touchpoint_common.settings import CommonSettings


def test_production_refuses_the_development_keys() -> None:
    """A production deployment that forgot its PII keys fails at start-up, naming them."""
    with pytest.raises(ValidationError, match="TOUCHPOINT_PII_HMAC_KEY"):
        CommonSettings(environment="production")


def test_production_starts_with_its_own_keys() -> None:
    """With both keys set, production settings load and report no development keys."""
    settings = CommonSettings(
        environment="production",
        pii_hmac_key=SecretStr("a-long-random-hmac-key-of-at-least-32-bytes"),
        pii_kek=SecretStr(base64.b64encode(b"k" * 32).decode()),
    )
    assert not settings.uses_development_keys()


def test_development_flags_the_default_keys() -> None:
    """Local runs may use the defaults, and the runtime can tell (it logs a warning)."""
    assert CommonSettings().uses_development_keys()


GOOD_KEK = base64.b64encode(bytes(range(32))).decode()
GOOD_HMAC = "Zr8q1Vw0pXk3LmN7sT2yBh6JcD9fGa4E"


@pytest.mark.parametrize(
    ("hmac_key", "kek", "problem"),
    [
        ("short-hmac-key", GOOD_KEK, "at least 32 bytes"),
        ("please-change-me-before-going-live-ok", GOOD_KEK, "placeholder"),
        (GOOD_HMAC, base64.b64encode(bytes(range(16))).decode(), "32 bytes"),
        (GOOD_HMAC, base64.b64encode(b"placeholder-placeholder-32bytes!").decode(), None),
    ],
)
def test_production_refuses_short_or_placeholder_keys(
    hmac_key: str, kek: str, problem: str | None
) -> None:
    """Production refuses an HMAC key under 32 bytes, a KEK that is not AES-256, and key
    texts that read like placeholders; a base64 KEK is judged by its bytes' length only."""
    fields = {"environment": "production", "pii_hmac_key": hmac_key, "pii_kek": kek}
    if problem is None:
        assert not CommonSettings.model_validate(fields).uses_development_keys()
    else:
        with pytest.raises(ValidationError, match=problem):
            CommonSettings.model_validate(fields)


def test_key_rings_hold_the_current_key_and_older_ones_by_id() -> None:
    """The rings name the current key ids and keep older keys readable by id."""
    settings = CommonSettings(
        pii_hmac_key=SecretStr(GOOD_HMAC),
        pii_hmac_key_id="k2",
        pii_hmac_keys_old={"k1": SecretStr("old-hmac")},
        pii_kek=SecretStr(GOOD_KEK),
        pii_kek_id="k2",
        pii_keks_old={"k1": SecretStr(base64.b64encode(b"o" * 32).decode())},
    )
    hmac_ring, kek_ring = settings.hmac_key_ring(), settings.kek_ring()
    assert (hmac_ring.current_id, hmac_ring.current) == ("k2", GOOD_HMAC.encode())
    assert hmac_ring.get("k1") == b"old-hmac"
    assert (kek_ring.current_id, kek_ring.get("k1")) == ("k2", b"o" * 32)


def test_older_keys_come_from_json_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """TOUCHPOINT_PII_KEKS_OLD is a JSON object of id to base64 key; a bad one is refused."""
    monkeypatch.setenv("TOUCHPOINT_PII_KEKS_OLD", f'{{"k0": "{GOOD_KEK}"}}')
    assert CommonSettings().kek_ring().get("k0") == bytes(range(32))
    monkeypatch.setenv("TOUCHPOINT_PII_KEKS_OLD", '{"k0": "bm90LWEta2V5"}')
    with pytest.raises(ValidationError, match="k0"):
        CommonSettings()
