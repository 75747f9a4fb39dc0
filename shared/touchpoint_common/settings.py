"""Settings shared by every service, read from TOUCHPOINT_* environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_HMAC_KEY = "touchpoint-dev-hmac-key-change-me"
# base64 of 32 bytes: only for local runs and tests; production must set its own.
DEV_KEK = "dG91Y2hwb2ludC1kZXYta2VrLTMyLWJ5dGVzLW9rISE="


class CommonSettings(BaseSettings):
    """What every Touchpoint service needs: broker, database, topics, PII keys, logging."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_", extra="ignore")

    service_name: str = "touchpoint"
    kafka_bootstrap: str = "localhost:9092"
    database_url: str = "postgresql+asyncpg://touchpoint:touchpoint@localhost:5432/touchpoint"
    database_pool_size: int = Field(default=10, ge=1)

    topic_interactions: str = "touchpoint.interactions.v1"
    topic_dead_letter: str = "touchpoint.interactions.dlq.v1"
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    topic_retention_ms: int = Field(default=180 * 24 * 3600 * 1000, ge=-1)
    kafka_compression: str = "lz4"
    kafka_request_timeout_ms: int = Field(default=5000, ge=100)

    pii_hmac_key: SecretStr = SecretStr(DEV_HMAC_KEY)
    pii_kek: SecretStr = SecretStr(DEV_KEK)

    environment: Literal["development", "production"] = "development"
    """In production the development PII keys are refused at start-up."""

    run_migrations: bool = True
    log_level: str = "INFO"
    log_json: bool = True

    def identifier_hmac_key(self) -> bytes:
        """TOUCHPOINT_PII_HMAC_KEY as the bytes identifiers are digested (keyed) with."""
        return self.pii_hmac_key.get_secret_value().encode()

    def uses_development_keys(self) -> bool:
        """True while either PII key is still the published development default."""
        return (
            self.pii_hmac_key.get_secret_value() == DEV_HMAC_KEY
            or self.pii_kek.get_secret_value() == DEV_KEK
        )

    @model_validator(mode="after")
    def _no_development_keys_in_production(self) -> CommonSettings:
        if self.environment == "production" and self.uses_development_keys():
            raise ValueError(
                "TOUCHPOINT_ENVIRONMENT=production needs its own TOUCHPOINT_PII_HMAC_KEY and "
                "TOUCHPOINT_PII_KEK: the development defaults are public"
            )
        return self
