"""Settings shared by every service, read from TOUCHPOINT_* environment variables."""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from touchpoint_common.identity.pii import DEFAULT_KEY_ID, KeyRing, decode_kek

DEV_HMAC_KEY = "touchpoint-dev-hmac-key-change-me"
# base64 of 32 bytes: only for local runs and tests; production must set its own.
DEV_KEK = "dG91Y2hwb2ludC1kZXYta2VrLTMyLWJ5dGVzLW9rISE="
MIN_HMAC_KEY_BYTES = 32
PRODUCTION_KEK_BYTES = 32
PLACEHOLDER_MARKERS = ("change-me", "changeme", "placeholder", "example", "secret", "xxxx")
"""Key texts containing one of these (any case) are refused in production."""


class CommonSettings(BaseSettings):
    """What every Touchpoint service needs: broker, database, topics, PII keys, logging."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_", extra="ignore")

    service_name: str = "touchpoint"
    kafka_bootstrap: str = "localhost:9092"
    database_url: str = "postgresql+asyncpg://touchpoint:touchpoint@localhost:5432/touchpoint"
    database_pool_size: int = Field(default=10, ge=1)
    database_ssl_mode: Literal["disable", "require", "verify-ca", "verify-full"] = "disable"
    """As libpq's sslmode: require encrypts, verify-ca also checks the CA, verify-full the host."""
    database_ssl_root_cert: str | None = None
    """CA bundle file for verify-ca / verify-full (default: the system's CAs)."""
    database_ssl_cert: str | None = None
    """Client certificate file, when the server asks for one (with database_ssl_key)."""
    database_ssl_key: str | None = None

    topic_interactions: str = "touchpoint.interactions.v1"
    topic_dead_letter: str = "touchpoint.interactions.dlq.v1"
    topic_rankings: str = "touchpoint.rankings.v1"
    """Each base-wide ranking the profile's ranking job computes (compacted: the newest stays)."""
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    topic_retention_ms: int = Field(default=180 * 24 * 3600 * 1000, ge=-1)
    kafka_compression: str = "lz4"
    kafka_request_timeout_ms: int = Field(default=5000, ge=100)
    kafka_producer_stall_s: float = Field(default=30.0, gt=0)
    """A send waiting this long for the broker means a wedged producer: it is replaced."""
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_ssl_cafile: str | None = None
    """CA bundle file that signed the brokers' certificates (default: the system's CAs)."""
    kafka_ssl_certfile: str | None = None
    """Client certificate file for mutual TLS (with kafka_ssl_keyfile)."""
    kafka_ssl_keyfile: str | None = None
    kafka_ssl_check_hostname: bool = True
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None

    pii_hmac_key: SecretStr = SecretStr(DEV_HMAC_KEY)
    pii_hmac_key_id: str = Field(default=DEFAULT_KEY_ID, min_length=1, max_length=32)
    pii_hmac_keys_old: dict[str, SecretStr] = Field(default_factory=dict)
    """Older HMAC keys by id (JSON object), still read during a rotation."""
    pii_kek: SecretStr = SecretStr(DEV_KEK)
    pii_kek_id: str = Field(default=DEFAULT_KEY_ID, min_length=1, max_length=32)
    pii_keks_old: dict[str, SecretStr] = Field(default_factory=dict)
    """Older key-encryption keys by id (JSON object of base64 keys), still unwrapped."""

    environment: Literal["development", "production"] = "development"
    """In production the development PII keys are refused at start-up."""

    cors_allowed_origins: list[str] = Field(default_factory=list)
    """Browser origins allowed to call this service (JSON list), e.g. the agent console's
    (the profile service's own origin); empty: no CORS headers at all."""

    tracing_enabled: bool | None = None
    """OpenTelemetry traces over OTLP: None (unset) turns them on when a standard
    OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set; false keeps them off."""

    run_migrations: bool = True
    log_level: str = "INFO"
    log_json: bool = True

    def identifier_hmac_key(self) -> bytes:
        """TOUCHPOINT_PII_HMAC_KEY as the bytes identifiers are digested (keyed) with."""
        return self.pii_hmac_key.get_secret_value().encode()

    def hmac_key_ring(self) -> KeyRing:
        """The current HMAC key by id plus the older ones still read during a rotation."""
        return KeyRing(
            current_id=self.pii_hmac_key_id,
            current=self.identifier_hmac_key(),
            older={
                key_id: key.get_secret_value().encode()
                for key_id, key in self.pii_hmac_keys_old.items()
                if key_id != self.pii_hmac_key_id
            },
        )

    def kek_ring(self) -> KeyRing:
        """The current key-encryption key by id plus the older ones still unwrapped."""
        return KeyRing(
            current_id=self.pii_kek_id,
            current=decode_kek(self.pii_kek.get_secret_value()),
            older={
                key_id: decode_kek(key.get_secret_value())
                for key_id, key in self.pii_keks_old.items()
                if key_id != self.pii_kek_id
            },
        )

    def uses_development_keys(self) -> bool:
        """True while either PII key is still the published development default."""
        return (
            self.pii_hmac_key.get_secret_value() == DEV_HMAC_KEY
            or self.pii_kek.get_secret_value() == DEV_KEK
        )

    @model_validator(mode="after")
    def _sasl_has_credentials(self) -> CommonSettings:
        sasl = self.kafka_security_protocol.startswith("SASL")
        if sasl and (self.kafka_sasl_username is None or self.kafka_sasl_password is None):
            raise ValueError(
                f"TOUCHPOINT_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "TOUCHPOINT_KAFKA_SASL_USERNAME and TOUCHPOINT_KAFKA_SASL_PASSWORD"
            )
        return self

    @model_validator(mode="after")
    def _keys_decode(self) -> CommonSettings:
        for key_id, key in {self.pii_kek_id: self.pii_kek, **self.pii_keks_old}.items():
            try:
                decode_kek(key.get_secret_value())
            except (ValueError, binascii.Error) as exc:
                raise ValueError(f"PII key-encryption key {key_id!r}: {exc}") from None
        return self

    @model_validator(mode="after")
    def _no_development_keys_in_production(self) -> CommonSettings:
        if self.environment != "production":
            return self
        if self.uses_development_keys():
            raise ValueError(
                "TOUCHPOINT_ENVIRONMENT=production needs its own TOUCHPOINT_PII_HMAC_KEY and "
                "TOUCHPOINT_PII_KEK: the development defaults are public"
            )
        problems = [
            *_weak_key_problems("TOUCHPOINT_PII_HMAC_KEY", self.pii_hmac_key, hmac=True),
            *_weak_key_problems("TOUCHPOINT_PII_KEK", self.pii_kek, hmac=False),
        ]
        if problems:
            raise ValueError("production refuses weak PII keys: " + "; ".join(problems))
        return self


def _weak_key_problems(name: str, key: SecretStr, *, hmac: bool) -> list[str]:
    """Why a production key is unacceptable: a placeholder text or too few bytes."""
    text = key.get_secret_value()
    problems = []
    if any(marker in text.lower() for marker in PLACEHOLDER_MARKERS):
        problems.append(f"{name} looks like a placeholder")
    if hmac and len(text.encode()) < MIN_HMAC_KEY_BYTES:
        problems.append(f"{name} must be at least {MIN_HMAC_KEY_BYTES} bytes")
    if not hmac and len(base64.b64decode(text)) != PRODUCTION_KEK_BYTES:
        problems.append(f"{name} must be base64 of {PRODUCTION_KEK_BYTES} bytes (AES-256)")
    return problems
