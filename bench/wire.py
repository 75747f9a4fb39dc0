"""Realistic wire events without HTTP: the ingest generator's traffic, validated and sealed by
ingest's own pure functions, with identity resolved in memory (same rules: an identifier
keeps its customer; identify merges the customers it links into the event's customer).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.identity import pii
from touchpoint_common.identity.store import DigestKey, Identifier, ResolvedCustomer
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.generator.traffic import Event, TrafficModel
from touchpoint_ingest.events.validation import Rules, ValidEvent, validate_event
from touchpoint_ingest.events.wire import build_interaction


def validation_rules(settings: CommonSettings) -> Rules:
    """Ingest's validation rules with the bench's keys (future skew generous: history is old)."""
    return Rules(
        hmac_key=settings.identifier_hmac_key(),
        default_region="CN",
        max_future_skew=timedelta(minutes=5),
    )


@dataclass
class MemoryResolver:
    """Identifier digest → customer id, minting ids with a prefix; customer id → data key."""

    prefix: str
    owners: dict[DigestKey, str] = field(default_factory=dict)
    keys: dict[str, bytes] = field(default_factory=dict)

    def _mint(self) -> str:
        customer_id = f"{self.prefix}{uuid.uuid4().hex[:16]}"
        self.keys[customer_id] = pii.new_data_key()
        return customer_id

    def resolve(
        self, identifiers: tuple[Identifier, ...], link: tuple[Identifier, ...]
    ) -> ResolvedCustomer:
        """Where the event lands, claiming its identifiers (and an identify's links)."""
        found = [self.owners[i.key] for i in identifiers if i.key in self.owners]
        customer_id = found[0] if found else self._mint()
        merged = sorted(
            {self.owners[i.key] for i in (*identifiers, *link) if i.key in self.owners}
            - {customer_id}
        )
        for stale in merged:
            for key in [key for key, owner in self.owners.items() if owner == stale]:
                self.owners[key] = customer_id
        for ident in (*identifiers, *link):
            self.owners[ident.key] = customer_id
        return ResolvedCustomer(
            customer_id=customer_id,
            data_key=self.keys[customer_id],
            merged_customer_ids=tuple(merged),
        )


def to_wire(
    raw: Event, *, rules: Rules, resolver: MemoryResolver, now: datetime
) -> InteractionEvent:
    """One generator event as ingest would write it to Kafka."""
    valid = validate_event(raw, now=now, rules=rules)
    if not isinstance(valid, ValidEvent):
        raise ValueError(f"generator produced an invalid event: {valid}")
    link = valid.link.identifiers if valid.link is not None else ()
    resolved = resolver.resolve(valid.customer.identifiers, link)
    return build_interaction(valid, resolved, received_at=valid.event.occurred_at)


def history(
    *,
    count: int,
    customers: int,
    seed: int,
    start: datetime,
    end: datetime,
    settings: CommonSettings,
    prefix: str,
) -> list[InteractionEvent]:
    """`count` events of `customers` simulated people, occurred_at evenly over [start, end]."""
    model = TrafficModel(customers=customers, seed=seed)
    rules = validation_rules(settings)
    resolver = MemoryResolver(prefix)
    step = (end - start) / max(1, count)
    return [
        to_wire(model.next_event(start + step * index), rules=rules, resolver=resolver, now=end)
        for index in range(count)
    ]


def one_customer_history(
    *, count: int, seed: int, start: datetime, end: datetime, loyalty_id: str
) -> list[dict[str, Any]]:
    """`count` posted events (EventIn bodies) of one customer, named by its loyalty id.

    The generator's traffic for one person, with every event addressed to the same customer
    and identify events left out (they would only link identifiers to that same customer).
    """
    model = TrafficModel(customers=1, seed=seed)
    step = (end - start) / max(1, count)
    events: list[dict[str, Any]] = []
    index = 0
    while len(events) < count:
        raw = model.next_event(start + step * index)
        if raw["type"] == "identify":
            continue
        raw["customer"] = {"loyalty_id": loyalty_id}
        events.append(raw)
        index += 1
    return events
