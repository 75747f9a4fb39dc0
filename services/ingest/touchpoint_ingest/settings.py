"""Settings of the ingest service (TOUCHPOINT_* variables; see docs/configuration.md)."""

from __future__ import annotations

from pydantic import Field

from touchpoint_common.settings import CommonSettings


class IngestSettings(CommonSettings):
    """The ingest service's settings: the common ones plus its own."""

    service_name: str = "ingest"
    port: int = 8001

    default_phone_region: str = Field(default="CN", min_length=2, max_length=2)
    """Region assumed for phone numbers written without a country code."""
    max_future_skew_s: float = Field(default=300.0, ge=0)
    """How far occurred_at may lie in the future (client clock skew) before a 422."""
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_batch_events: int = Field(default=1000, ge=1)
    max_json_depth: int = Field(default=32, ge=8, le=1000)
    """Deepest bracket nesting a body may have (checked on the bytes, before parsing): 422."""
    max_json_values: int = Field(default=100_000, ge=1000)
    """Most JSON values (objects, arrays, scalars) a body may hold, counted before parsing: 413."""
    max_inflight_requests: int = Field(default=128, ge=1)
    """Event requests handled at once; more are answered 503 + Retry-After at the door."""
    max_queued_events: int = Field(default=20_000, ge=1)
    """Validated events waiting for an accept pass; a request beyond it gets 503 + Retry-After."""
    produce_timeout_s: float = Field(default=5.0, gt=0)
    """Deadline for the broker to acknowledge; past it the client gets 503 + Retry-After."""
    retry_after_s: int = Field(default=5, ge=1)
    accept_workers: int = Field(default=4, ge=1)
    """Passes of the accept pipeline run at once; concurrent requests are merged into them."""
    identity_cache_size: int = Field(default=100_000, ge=0)
    identity_cache_ttl_s: float = Field(default=60.0, ge=0)
    idempotency_window_h: float = Field(default=168.0, gt=0)
    """How long accepted event ids are remembered (then only the profile's dedup remains)."""
    idempotency_claim_timeout_s: float = Field(default=30.0, gt=0)
    """A pending claim older than this is taken over by a retry (its owner died)."""
