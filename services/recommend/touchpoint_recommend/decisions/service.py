"""Deciding next offers: read the live view, decide (pure), record the decision and its
offer_presented event (transactional outbox) in one transaction."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.kafka.outbox import OutboxRelay
from touchpoint_common.observability.tracing import current_span, name_read_trace, traced
from touchpoint_profile.read import get_view_trace
from touchpoint_recommend.configuration.holder import ConfigHolder
from touchpoint_recommend.customers.profile_view import CustomerReader
from touchpoint_recommend.decisions.models import Attribution, NextOffers
from touchpoint_recommend.decisions.publish import build_offer_presented, create_outbox_event
from touchpoint_recommend.domain.config import RecommendConfig
from touchpoint_recommend.domain.decide import decide
from touchpoint_recommend.domain.rules import DecisionContext
from touchpoint_recommend.domain.segmentation import assign_segment
from touchpoint_recommend.domain.snapshot import unknown_customer
from touchpoint_recommend.settings import RecommendSettings
from touchpoint_recommend.store.postgres import PostgresRecommendStore
from touchpoint_recommend.store.protocol import PresentedDecision

DECISIONS = Counter(
    "touchpoint_recommend_decisions_total",
    "Next-offer decisions by channel, segment and arm (learned or holdout).",
    ["channel", "segment", "arm"],
)
DECISION_LATENCY = Histogram(
    "touchpoint_recommend_decision_seconds",
    "Time to decide (view read, history, ranking, DB record and outbox row, commit).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


@dataclass
class DecisionDeps:
    """What a decision needs besides the database session."""

    settings: RecommendSettings
    holder: ConfigHolder
    reader: CustomerReader
    relay: OutboxRelay | None
    """Sends the outbox rows to Kafka; None: offer_presented is not logged (no broker)."""
    rng: random.Random


def get_lookback(config: RecommendConfig) -> timedelta:
    """How far back contact history matters for the contact policy."""
    policy = config.contact_policy
    days = max(
        policy.period_days,
        policy.rejection_suppression_days,
        policy.acceptance_suppression_days,
        policy.tier_caps.period_days if policy.tier_caps is not None else 0,
    )
    return timedelta(days=days)


@traced("decide")
async def create_next_offers(
    *,
    db_session: AsyncSession,
    deps: DecisionDeps,
    customer_id: str | None,
    channel: str,
    limit: int,
    now: datetime,
    attribution: Attribution = Attribution(),
) -> NextOffers:
    """Decide, record the decision (attributed to the store and agent that asked) and owe its
    offer_presented event to Kafka in one transaction, commit, wake the outbox relay. The
    request never waits for the broker; a decision made while it is down is sent later.
    Traced (when on) as a `decide` span naming the trace that last wrote the customer's view;
    its offer_presented record carries the decision's context on (written into the outbox)."""
    span = current_span()
    started = time.perf_counter()
    config, version = deps.holder.config, deps.holder.version
    store = PostgresRecommendStore(db_session)
    snapshot = None
    if customer_id is not None:
        snapshot = await deps.reader.get_snapshot(
            db_session=db_session, customer_id=customer_id, now=now
        )
        if span is not None:
            view_trace = await get_view_trace(db_session=db_session, customer_id=customer_id)
            name_read_trace(span, view_trace, what="view")
    customer = snapshot or unknown_customer(customer_id)
    segment = assign_segment(config, DecisionContext(customer=customer, channel=channel))
    inputs = await store.get_decision_inputs(
        customer_id=customer_id,
        since=now - get_lookback(config),
        segment=segment.id,
        offer_ids=[offer.id for offer in config.catalogue if offer.budget is not None],
    )
    if span is not None:
        span.set_attributes({"touchpoint.channel": channel, "touchpoint.segment": segment.id})
    decision = decide(
        config=config,
        customer=customer,
        channel=channel,
        now=now,
        decision_id=str(uuid.uuid4()),
        records=inputs.records,
        evidence_by_segment={segment.id: inputs.evidence},
        offer_usage=inputs.offer_usage,
        rng=deps.rng,
        limit=limit,
        config_version=version,
    )
    store_id, agent_id = attribution.store_id, attribution.agent_id
    await store.create_decision(
        PresentedDecision.from_decision(decision, store_id=store_id, agent_id=agent_id)
    )
    logged = False
    if customer_id is not None and deps.relay is not None:
        event = build_offer_presented(
            decision, customer_id=customer_id, now=now, store_id=store_id, agent_id=agent_id
        )
        await create_outbox_event(
            db_session=db_session,
            topic=deps.settings.topic_interactions,
            event=event,
            scope=deps.settings.recommend_outbox_scope,
        )
        logged = True
    await db_session.commit()
    if logged and deps.relay is not None:
        deps.relay.notify()
    DECISIONS.labels(channel, decision.segment, "holdout" if decision.holdout else "learned").inc()
    DECISION_LATENCY.observe(time.perf_counter() - started)
    # The decision is a validated model already: constructing skips a dump and a re-validation.
    return NextOffers.model_construct(**dict(decision), event_logged=logged)
