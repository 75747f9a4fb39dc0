"""Realistic mixed retail traffic, pure and seeded: the same seed gives the same events.

Customers have habits (a preferred store, categories they like, which identifiers they use).
Traffic comes in episodes that span channels the way people do: a POS basket, a web session
that starts anonymous and logs in (identify), a call that turns into a complaint that is later
resolved, a wander through a store's zones, an answer to an offer, joining the loyalty club.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

Event = dict[str, Any]

CATALOGUE: dict[str, list[tuple[str, Decimal]]] = {
    "tea": [("TEA-0192", Decimal("89.90")), ("TEA-0311", Decimal("45.00"))],
    "teaware": [("CUP-0007", Decimal("179.90")), ("POT-0042", Decimal("399.00"))],
    "snacks": [("SNK-0101", Decimal("12.50")), ("SNK-0230", Decimal("8.80"))],
    "beauty": [("BEA-0900", Decimal("259.00")), ("BEA-0913", Decimal("129.00"))],
    "home": [("HOM-0310", Decimal("69.90")), ("HOM-0455", Decimal("219.00"))],
    "electronics": [("ELE-1200", Decimal("899.00")), ("ELE-1301", Decimal("149.00"))],
}
STORES = ["SH-023", "SH-051", "BJ-007", "GZ-014", "SZ-002"]
OFFERS = ["OFF-TEA-10", "OFF-BEA-15", "OFF-HOM-20", "OFF-SNK-BOGO", "OFF-ELE-5"]
CALL_REASONS = ["delivery_status", "product_question", "billing", "loyalty_points", "store_hours"]
COMPLAINT_CATEGORIES = ["damaged_goods", "late_delivery", "staff_behaviour", "billing_error"]
COMPLAINT_TEXTS = [
    "The parcel arrived with a cracked lid.",
    "I was charged twice for the same order.",
    "Delivery was promised for Monday and came on Friday.",
    "The cashier was rude when I asked about points.",
]
CALL_NOTES = [
    "Quoted 89.90 for the replacement lid.",
    "Explained the points expire at the end of the year.",
    "Customer upset about the delay; apologised.",
]
COMMITMENTS = [
    "Call back with the courier's answer.",
    "Hold the item at the home store.",
    "Refund the duplicate charge.",
]
MOBILE_PREFIXES = ["138", "139", "150", "186", "137"]
DUE_IN_HOURS = "_due_in_hours"
"""Where a queued commitment keeps its delay until next_event stamps the send time."""

# Relative weights of the episode kinds (a POS-heavy retailer with a busy website).
EPISODES: dict[str, float] = {
    "pos_basket": 0.30,
    "web_session": 0.28,
    "store_visit": 0.14,
    "call": 0.10,
    "offer_response": 0.10,
    "membership": 0.04,
    "complaint_resolved": 0.04,
    "consent": 0.05,
}
# Where a consent statement is captured, for the channel it covers (an SMS opt-out is a reply).
CONSENT_CAPTURED_ON = {"pos": "pos", "web": "web", "call_centre": "call_centre", "sms": "sms"}


@dataclass
class Customer:
    """A simulated shopper; identifiers are what their channels know them by."""

    number: int
    phone: str
    email: str
    loyalty_id: str | None
    home_store: str
    likes: list[str]
    anonymous_id: str | None = None
    logged_in: bool = False
    open_complaints: list[str] = field(default_factory=list)


@dataclass
class TrafficModel:
    """Yields one event at a time; episodes of several events are queued in order."""

    customers: int
    seed: int
    rng: random.Random = field(init=False)
    people: list[Customer] = field(init=False)
    queue: deque[Event] = field(init=False, default_factory=deque)
    counter: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.people = [self._make_customer(number) for number in range(self.customers)]

    def next_event(self, now: datetime) -> Event:
        """The next event to send, stamped `now` (episodes unfold over consecutive calls)."""
        while not self.queue:
            self.queue.extend(self._episode())
        event = self.queue.popleft()
        event["occurred_at"] = now.isoformat()
        commitment = event["payload"].get("commitment")
        if isinstance(commitment, dict) and DUE_IN_HOURS in commitment:
            due = now + timedelta(hours=commitment.pop(DUE_IN_HOURS))
            commitment["due_at"] = due.isoformat()
        return event

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _make_customer(self, number: int) -> Customer:
        rng = self.rng
        member = rng.random() < 0.6
        return Customer(
            number=number,
            phone=f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}",
            email=f"shopper{number}.{self.seed}@example.com",
            loyalty_id=f"L-{self.seed}-{number:06d}" if member else None,
            home_store=rng.choice(STORES),
            likes=rng.sample(sorted(CATALOGUE), k=2),
        )

    def _event(self, kind: str, channel: str, customer: dict[str, str], **rest: Any) -> Event:
        self.counter += 1
        return {
            "event_id": str(uuid.uuid4()),  # unique per run: re-running a seed is new traffic
            "type": kind,
            "channel": channel,
            "customer": customer,
            "payload": rest.pop("payload"),
            **{key: value for key, value in rest.items() if value is not None},
        }

    def _episode(self) -> list[Event]:
        person = self.rng.choice(self.people)
        kinds, weights = zip(*EPISODES.items(), strict=True)
        kind = self.rng.choices(kinds, weights=weights)[0]
        return list(getattr(self, f"_{kind}")(person))

    def _pos_identity(self, person: Customer) -> dict[str, str]:
        if person.loyalty_id and self.rng.random() < 0.75:
            return {"loyalty_id": person.loyalty_id}
        return {"phone": person.phone}

    def _basket(self, person: Customer) -> tuple[list[dict[str, Any]], Decimal]:
        items: list[dict[str, Any]] = []
        total = Decimal("0")
        for _ in range(self.rng.randint(1, 4)):
            category = (
                self.rng.choice(person.likes)
                if self.rng.random() < 0.7
                else self.rng.choice(sorted(CATALOGUE))
            )
            sku, price = self.rng.choice(CATALOGUE[category])
            quantity = self.rng.randint(1, 3)
            items.append(
                {"sku": sku, "category": category, "quantity": quantity, "unit_price": str(price)}
            )
            total += price * quantity
        return items, total

    def _pos_basket(self, person: Customer) -> list[Event]:
        items, total = self._basket(person)
        order_id = f"{person.home_store}-{self.counter:08d}"
        payload = {"order_id": order_id, "amount": str(total), "currency": "CNY", "items": items}
        events = [
            self._event(
                "purchase",
                "pos",
                self._pos_identity(person),
                store_id=person.home_store,
                payload=payload,
            )
        ]
        if self.rng.random() < 0.05:
            returned = items[:1]
            amount = Decimal(returned[0]["unit_price"]) * returned[0]["quantity"]
            events.append(
                self._event(
                    "return",
                    "pos",
                    self._pos_identity(person),
                    store_id=person.home_store,
                    payload={
                        "order_id": order_id,
                        "amount": str(amount),
                        "currency": "CNY",
                        "items": returned,
                    },
                )
            )
        return events

    def _web_session(self, person: Customer) -> list[Event]:
        if person.anonymous_id is None or self.rng.random() < 0.3:
            person.anonymous_id, person.logged_in = f"web-{self._uuid()[:13]}", False
        who = {"anonymous_id": person.anonymous_id}
        events = []
        for _ in range(self.rng.randint(2, 6)):
            category = self.rng.choice(person.likes)
            sku, _ = self.rng.choice(CATALOGUE[category])
            events.append(
                self._event(
                    "page_view",
                    "web",
                    who,
                    payload={"url": f"/p/{sku}", "category": category, "sku": sku},
                )
            )
        if not person.logged_in and self.rng.random() < 0.45:
            link = {"loyalty_id": person.loyalty_id} if person.loyalty_id else {}
            link["email"] = person.email
            events.append(self._event("identify", "web", who, payload={"link": link}))
            person.logged_in = True
        if person.logged_in and self.rng.random() < 0.35:
            items, total = self._basket(person)
            payload = {
                "order_id": f"WEB-{self.counter:08d}",
                "amount": str(total),
                "currency": "CNY",
                "items": items,
            }
            events.append(self._event("purchase", "web", {"email": person.email}, payload=payload))
        return events

    def _store_visit(self, person: Customer) -> list[Event]:
        who = {"loyalty_id": person.loyalty_id} if person.loyalty_id else {"phone": person.phone}
        return [
            self._event(
                "store_visit",
                "store",
                who,
                store_id=person.home_store,
                payload={
                    "zone": zone,
                    "category": zone,
                    "dwell_seconds": self.rng.randint(20, 900),
                },
            )
            for zone in self.rng.sample(sorted(CATALOGUE), k=self.rng.randint(1, 3))
        ]

    def _call_payload(self, outcome: str) -> dict[str, Any]:
        """A call's payload; some carry an agent's note, a callback carries a commitment (its
        due time is set from the send time by next_event)."""
        payload: dict[str, Any] = {
            "reason": self.rng.choice(CALL_REASONS),
            "duration_seconds": self.rng.randint(30, 1500),
            "outcome": outcome,
        }
        if self.rng.random() < 0.5:
            payload["note"] = self.rng.choice(CALL_NOTES)
        if outcome == "callback":
            payload["commitment"] = {
                "commitment_id": f"CMT-{self.seed}-{self.counter:07d}",
                "text": self.rng.choice(COMMITMENTS),
                DUE_IN_HOURS: self.rng.choice([4, 24, 72]),
            }
        return payload

    def _call(self, person: Customer) -> list[Event]:
        agent = f"agent-{self.rng.randint(1, 40)}"
        who = {"phone": person.phone}
        escalates = self.rng.random() < 0.3
        outcome = "escalated" if escalates else self.rng.choice(["resolved", "callback"])
        call = self._event(
            "call",
            "call_centre",
            who,
            agent_id=agent,
            payload=self._call_payload(outcome),
        )
        if not escalates:
            return [call]
        complaint_id = f"CMP-{self.seed}-{self.counter:07d}"
        person.open_complaints.append(complaint_id)
        complaint = self._event(
            "complaint",
            "call_centre",
            who,
            agent_id=agent,
            payload={
                "complaint_id": complaint_id,
                "category": self.rng.choice(COMPLAINT_CATEGORIES),
                "severity": self.rng.choice(["low", "medium", "high", "critical"]),
                "text": self.rng.choice(COMPLAINT_TEXTS),
            },
        )
        assigned = self._event(
            "complaint_assigned",
            "call_centre",
            who,
            agent_id=agent,
            payload={"complaint_id": complaint_id, "owner": agent},
        )
        return [call, complaint, assigned]

    def _complaint_resolved(self, person: Customer) -> list[Event]:
        owners = [p for p in self.people if p.open_complaints]
        if not owners:
            return self._call(person)
        owner = self.rng.choice(owners)
        complaint_id = owner.open_complaints.pop(0)
        agent = f"agent-{self.rng.randint(1, 40)}"
        resolved = self._event(
            "complaint_resolved",
            "call_centre",
            {"phone": owner.phone},
            agent_id=agent,
            payload={
                "complaint_id": complaint_id,
                "resolution": self.rng.choice(["refund", "replacement_sent", "apology"]),
            },
        )
        follow_up = self._event(
            "complaint_follow_up",
            "call_centre",
            {"phone": owner.phone},
            agent_id=agent,
            payload={"complaint_id": complaint_id, "satisfaction": self.rng.randint(1, 5)},
        )
        return [resolved, follow_up]

    def _offer_response(self, person: Customer) -> list[Event]:
        who = {"loyalty_id": person.loyalty_id} if person.loyalty_id else {"phone": person.phone}
        outcome = self.rng.choices(["accepted", "rejected", "ignored"], weights=[2, 3, 5])[0]
        return [
            self._event(
                "offer_response",
                self.rng.choice(["web", "app", "email"]),
                who,
                payload={
                    "decision_id": f"dec-{self._uuid()[:8]}",
                    "offer_id": self.rng.choice(OFFERS),
                    "outcome": outcome,
                },
            )
        ]

    def _consent(self, person: Customer) -> list[Event]:
        """A consent statement: mostly a grant, sometimes a withdrawal, for one channel."""
        covers = self.rng.choice(sorted(CONSENT_CAPTURED_ON))
        payload = {
            "purpose": self.rng.choices(["marketing", "profiling"], weights=[0.7, 0.3])[0],
            "channel": covers,
            "status": "granted" if self.rng.random() < 0.75 else "withdrawn",
            "source": f"{covers}-preferences",
        }
        who = {"phone": person.phone}
        return [self._event("consent", CONSENT_CAPTURED_ON[covers], who, payload=payload)]

    def _membership(self, person: Customer) -> list[Event]:
        if person.loyalty_id is not None:
            payload = {"action": "tier_changed", "tier": self.rng.choice(["silver", "gold"])}
            who = {"loyalty_id": person.loyalty_id}
            return [self._event("membership", "app", who, payload=payload)]
        person.loyalty_id = f"L-{self.seed}-{person.number:06d}"
        joined = {"phone": person.phone, "loyalty_id": person.loyalty_id, "email": person.email}
        return [
            self._event(
                "membership",
                "store",
                joined,
                store_id=person.home_store,
                payload={"action": "joined", "tier": "basic"},
            )
        ]
