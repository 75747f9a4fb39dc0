"""Builders shared by the recommend unit tests: the default config and small customers."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache

from touchpoint_recommend.domain.config import RecommendConfig
from touchpoint_recommend.domain.decide import Decision, decide
from touchpoint_recommend.domain.learning import Evidence
from touchpoint_recommend.domain.policy import ContactRecord
from touchpoint_recommend.domain.snapshot import (
    ConsentItem,
    CustomerSnapshot,
    Interest,
    OpenComplaint,
    Rfm,
    opted_in,
)
from touchpoint_recommend.loader import load_default_config

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@lru_cache(maxsize=1)
def _shipped() -> RecommendConfig:
    return load_default_config()


@lru_cache(maxsize=1)
def _without_holdout() -> RecommendConfig:
    return default_config(holdout={"share": 0.0, "salt": "t"})


def default_config(**overrides: object) -> RecommendConfig:
    """The shipped default config, optionally with top-level sections replaced."""
    config = _shipped()
    if not overrides:
        return config
    data = config.model_dump(mode="json")
    data.update(overrides)
    return RecommendConfig.model_validate(data)


def customer(
    customer_id: str = "c-1",
    *,
    member: bool = True,
    tier: str | None = "B",
    lifecycle: str | None = "active",
    recency_days: int | None = 10,
    interests: Mapping[str, float] | None = None,
    recent_purchases: dict[str, int] | None = None,
    complaints: int = 0,
    consents: tuple[ConsentItem, ...] = opted_in("pos", "call_centre", "web"),
) -> CustomerSnapshot:
    """A known customer with sensible defaults (opted in to marketing and profiling)."""
    return CustomerSnapshot(
        customer_id=customer_id,
        member=member,
        member_tier="silver" if member else None,
        tier=tier,
        lifecycle=lifecycle,
        rfm=Rfm(
            window_days=30, recency_days=recency_days, frequency=3, monetary=420.0, r=4, f=3, m=3
        ),
        interests=tuple(
            Interest(category=category, score=score)
            for category, score in (interests or {}).items()
        ),
        recent_purchases=recent_purchases or {},
        open_complaints=tuple(
            OpenComplaint(
                complaint_id=f"k-{index}", category="delivery", severity="high", age_days=3
            )
            for index in range(complaints)
        ),
        consents=consents,
    )


def run_decide(
    snapshot: CustomerSnapshot,
    *,
    config: RecommendConfig | None = None,
    channel: str = "pos",
    records: list[ContactRecord] | None = None,
    evidence: Mapping[str, Mapping[str, Evidence]] | None = None,
    usage: Mapping[str, int] | None = None,
    seed: int = 7,
    decision_id: str = "d-1",
    limit: int = 3,
    now: datetime = NOW,
) -> Decision:
    """decide() with empty history and a seeded RNG unless told otherwise."""
    return decide(
        config=config or _without_holdout(),
        customer=snapshot,
        channel=channel,
        now=now,
        decision_id=decision_id,
        records=records or [],
        evidence_by_segment=evidence or {},
        offer_usage=usage or {},
        rng=random.Random(seed),
        limit=limit,
    )
