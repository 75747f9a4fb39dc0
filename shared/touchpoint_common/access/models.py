"""Scopes, the api_keys and audit_log tables, and the shapes the admin endpoints answer with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import ARRAY, BigInteger, Column, DateTime, MetaData, Table, Text, func

metadata = MetaData()


class Scope(StrEnum):
    """What a key may do; each endpoint needs one (docs/security.md has the table)."""

    EVENTS_WRITE = "events:write"
    IDENTITY_LINK = "identity:link"
    EVENTS_ERASE = "events:erase"
    PROFILES_READ = "profiles:read"
    PROFILES_READ_PII = "profiles:read_pii"
    OFFERS_READ = "offers:read"
    OFFERS_RESPOND = "offers:respond"
    OPS_READ = "ops:read"
    FIGURES_READ = "figures:read"
    ADMIN = "admin"


ALL_SCOPES: frozenset[Scope] = frozenset(Scope)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("secret_sha256", Text, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("store_ids", ARRAY(Text), nullable=True),
    Column("event_types", ARRAY(Text), nullable=True),
    Column("rate_per_second", BigInteger, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("audit_id", BigInteger, primary_key=True, autoincrement=True),
    Column("key_id", Text, nullable=False),
    Column("customer_id", Text, nullable=True),
    Column("action", Text, nullable=False),
    Column("fields", ARRAY(Text), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


@dataclass(frozen=True)
class Principal:
    """The key a request was made with, as the endpoints and checks need it."""

    key_id: str
    name: str
    scopes: frozenset[str]
    store_ids: frozenset[str] | None = None
    event_types: frozenset[str] | None = None
    rate_per_second: int | None = None


MAX_RATE_PER_SECOND = 1_000_000
"""Far above any client; bounds the column (bigint) and the limiter's window arithmetic."""
# PostgreSQL text refuses NUL: names and bindings are refused with a 422 before they get there.
KeyText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
Binding = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]


class KeyIn(BaseModel):
    """A key to create."""

    name: KeyText
    scopes: list[Scope] = Field(min_length=1)
    store_ids: list[Binding] | None = Field(
        default=None, description="A till key: only these stores"
    )
    event_types: list[Binding] | None = Field(
        default=None, description="A till key: only these types"
    )
    rate_per_second: int | None = Field(
        default=None, ge=1, le=MAX_RATE_PER_SECOND, description="Default: the setting"
    )


class KeyOut(BaseModel):
    """A key as listed: never its secret."""

    key_id: str
    name: str
    scopes: list[str]
    store_ids: list[str] | None
    event_types: list[str] | None
    rate_per_second: int | None
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    """A key just created or rotated: the only time its token is shown."""

    token: str = Field(description="Send as `Authorization: Bearer <token>`; shown once")


class AuditEntryOut(BaseModel):
    """One audited read: who (key id), which customer, which fields, when; no personal data."""

    audit_id: int
    key_id: str
    customer_id: str | None
    action: str
    fields: list[str]
    at: datetime
