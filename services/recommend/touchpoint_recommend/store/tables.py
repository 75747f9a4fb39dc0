"""The recommend tables (created by migration 0003_recommend), as SQLAlchemy Core."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

decisions = Table(
    "recommend_decisions",
    metadata,
    Column("decision_id", Text, primary_key=True),
    Column("customer_id", Text),
    Column("channel", Text, nullable=False),
    Column("segment", Text, nullable=False),
    Column("strategy", Text, nullable=False),
    Column("holdout", Boolean, nullable=False),
    Column("offers", JSONB, nullable=False),
    Column("config_version", Text),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("merged_from", Text),
    Column("store_id", Text),
    Column("agent_id", Text),
)
contacts = Table(
    "recommend_contacts",
    metadata,
    Column("decision_id", Text, primary_key=True),
    Column("offer_id", Text, primary_key=True),
    Column("customer_id", Text),
    Column("segment", Text, nullable=False),
    Column("kind", Text),
    Column("rank", Integer, nullable=False),
    Column("holdout", Boolean, nullable=False),
    Column("channel", Text, nullable=False),
    Column("presented_at", DateTime(timezone=True), nullable=False),
    Column("outcome", Text),
    Column("outcome_at", DateTime(timezone=True)),
    Column("merged_from", Text),
)
posteriors = Table(
    "recommend_posteriors",
    metadata,
    Column("segment", Text, primary_key=True),
    Column("offer_id", Text, primary_key=True),
    Column("successes", BigInteger, nullable=False),
    Column("failures", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True)),
)
offer_usage = Table(
    "recommend_offer_usage",
    metadata,
    Column("offer_id", Text, primary_key=True),
    Column("presented", BigInteger, nullable=False),
    Column("accepted", BigInteger, nullable=False),
)
config_versions = Table(
    "recommend_config_versions",
    metadata,
    Column("version", BigInteger, primary_key=True),
    Column("author", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("body", JSONB, nullable=False),
)
