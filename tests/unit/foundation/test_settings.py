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
        pii_hmac_key=SecretStr("a-long-random-hmac-key"),
        pii_kek=SecretStr(base64.b64encode(b"k" * 32).decode()),
    )
    assert not settings.uses_development_keys()


def test_development_flags_the_default_keys() -> None:
    """Local runs may use the defaults, and the runtime can tell (it logs a warning)."""
    assert CommonSettings().uses_development_keys()
