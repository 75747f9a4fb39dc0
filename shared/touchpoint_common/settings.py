"""Settings shared by every service, read from TOUCHPOINT_* environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr
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

    run_migrations: bool = True
    log_level: str = "INFO"
    log_json: bool = True
