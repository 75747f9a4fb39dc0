"""Pure PII helpers: normalise identifiers, key them by HMAC, seal and mask them.

Crypto-shredding: every customer has a random data key (wrapped by the key-encryption key,
stored in PostgreSQL). Values shown to people are sealed with it before they reach Kafka;
erasing the customer destroys the key, which makes every sealed copy in the log unreadable.

Rotation: both the key-encryption key (KEK) and the HMAC key have ids. A `KeyRing` holds the
current key and older ones still accepted for reading; stored rows record which id made them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import phonenumbers
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from email_validator import EmailNotValidError, validate_email

from touchpoint_common.events.payloads import IdentifierKind

SEAL_PREFIX = "v1:"
DEFAULT_KEY_ID = "k1"
"""The id of the keys in use before key ids existed (migration 0006 gives it to old rows)."""
_WRAP_BOUND = b"\x01"
LEGACY_WRAPPED_LENGTH = 12 + 32 + 16
"""Bytes of a data key wrapped before wraps named their customer (nonce, key, tag)."""


class UnknownKeyId(KeyError):
    """A stored row names a key id that is neither current nor among the older keys."""


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The current key (by id) plus older keys still accepted for reading during rotation."""

    current_id: str
    current: bytes
    older: Mapping[str, bytes] = field(default_factory=dict)

    def get(self, key_id: str) -> bytes:
        """The key with this id, current or older; raises UnknownKeyId."""
        if key_id == self.current_id:
            return self.current
        try:
            return self.older[key_id]
        except KeyError:
            raise UnknownKeyId(key_id) from None


class InvalidIdentifier(ValueError):
    """An identifier that cannot be normalised; the message says why."""


def normalize_phone(raw: str, *, default_region: str) -> str:
    """E.164 form of a phone number written in any common format."""
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentifier(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidIdentifier("not a valid phone number for its region")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    """Trimmed, lower-cased e-mail address, checked for syntax (no DNS look-up)."""
    candidate = raw.strip().lower()
    try:
        validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidIdentifier(f"not a valid e-mail address: {exc}") from exc
    return candidate


def normalize_identifier(kind: IdentifierKind, raw: str, *, default_region: str) -> str:
    """The canonical form of any identifier kind, the one that gets keyed."""
    if kind == "phone":
        return normalize_phone(raw, default_region=default_region)
    if kind == "email":
        return normalize_email(raw)
    value = raw.strip()
    if not value:
        raise InvalidIdentifier("empty identifier")
    return value


def digest_identifier(kind: IdentifierKind, normalized: str, *, key: bytes) -> str:
    """Keyed hash (HMAC-SHA256) of a normalised identifier: look-up without plain text."""
    message = f"{kind}:{normalized}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def new_data_key() -> bytes:
    """A fresh 256-bit per-customer data key."""
    return AESGCM.generate_key(bit_length=256)


def _wrap_context(customer_id: str) -> bytes:
    return b"touchpoint-data-key:" + customer_id.encode()


def wrap_key(data_key: bytes, *, kek: bytes, customer_id: str) -> bytes:
    """Encrypt a data key with the KEK for storage, bound to its customer (associated data):
    a wrapped key copied to another customer's row does not open there."""
    nonce = os.urandom(12)
    return _WRAP_BOUND + nonce + AESGCM(kek).encrypt(nonce, data_key, _wrap_context(customer_id))


def unwrap_key(wrapped: bytes, *, kek: bytes, customer_id: str) -> bytes:
    """Decrypt a stored data key (raises cryptography's InvalidTag for another customer's)."""
    if is_legacy_wrap(wrapped):  # written before keys were bound: rewrapped by `rotate kek`
        return AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], b"touchpoint-data-key")
    if wrapped[:1] != _WRAP_BOUND:
        raise ValueError("unknown wrapped key format")
    return AESGCM(kek).decrypt(wrapped[1:13], wrapped[13:], _wrap_context(customer_id))


def is_legacy_wrap(wrapped: bytes) -> bool:
    """True for a data key wrapped before wraps named their customer (needs a rewrap)."""
    return len(wrapped) == LEGACY_WRAPPED_LENGTH


def seal(plain: str, *, data_key: bytes, context: str) -> str:
    """AES-GCM encrypt `plain` under the customer's key; `context` binds it to its use."""
    nonce = os.urandom(12)
    ciphertext = AESGCM(data_key).encrypt(nonce, plain.encode(), context.encode())
    return SEAL_PREFIX + base64.urlsafe_b64encode(nonce + ciphertext).decode()


def open_sealed(token: str, *, data_key: bytes, context: str) -> str:
    """Decrypt a value made by `seal` (raises cryptography's InvalidTag when tampered)."""
    if not token.startswith(SEAL_PREFIX):
        raise ValueError("unknown seal format")
    blob = base64.urlsafe_b64decode(token[len(SEAL_PREFIX) :])
    return AESGCM(data_key).decrypt(blob[:12], blob[12:], context.encode()).decode()


def decode_kek(encoded: str) -> bytes:
    """The key-encryption key from its base64 setting; must be 16, 24 or 32 bytes."""
    kek = base64.b64decode(encoded)
    if len(kek) not in (16, 24, 32):
        raise ValueError("TOUCHPOINT_PII_KEK must be base64 of 16, 24 or 32 bytes")
    return kek


def older_digests(
    kind: IdentifierKind, normalized: str, *, older_keys: Mapping[str, bytes]
) -> tuple[tuple[str, str], ...]:
    """(key id, digest) of a normalised identifier under each older HMAC key (dual-read)."""
    return tuple(
        (key_id, digest_identifier(kind, normalized, key=key))
        for key_id, key in sorted(older_keys.items())
    )


def mask_phone(e164: str) -> str:
    """'+8613812345678' -> '+86 138****5678': enough to confirm, not enough to dial."""
    try:
        parsed = phonenumbers.parse(e164, None)
        country = f"+{parsed.country_code}"
        national = str(parsed.national_number)
    except phonenumbers.NumberParseException:
        country, national = "", e164.lstrip("+")
    if len(national) <= 4:
        return f"{country} {'*' * len(national)}".strip()
    head = national[:3] if len(national) > 7 else ""
    tail = national[-4:]
    stars = "*" * (len(national) - len(head) - len(tail))
    return f"{country} {head}{stars}{tail}".strip()


def mask_email(email: str) -> str:
    """'li.wei@example.com' -> 'l****@example.com'."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}****@{domain}" if domain else "****"


def mask_identifier(kind: IdentifierKind, value: str) -> str:
    """A display form that confirms an identity without revealing it."""
    if kind == "phone":
        return mask_phone(value)
    if kind == "email":
        return mask_email(value)
    if kind in ("anonymous_id",):
        return value[:4] + "****"
    return value
