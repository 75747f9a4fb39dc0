"""The end-of-run check: the profile view against what the client got a 2xx for.

Which customer an event belongs to is decided by ingest's identity resolution (and merged by
`identify`), so it is read, not guessed: the interactions topic says which customer each
event_id was keyed by, and the profile API says which customer that one survives as. The
figures are then summed per surviving customer from the client's own events (each accepted
event_id once) and compared with the view: purchases and net spend in the window, contacts per
channel.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from touchpoint_devtools.generator.traffic import Event


@dataclass
class Figures:
    """What the view shows of one customer that the client can predict exactly."""

    purchases: int = 0
    net_spend: Decimal = Decimal(0)
    channels: Counter[str] = field(default_factory=Counter)
    event_ids: list[str] = field(default_factory=list)

    def add(self, event: Event) -> None:
        """Count one event as the fold does (purchases add, returns subtract)."""
        self.event_ids.append(str(event["event_id"]))
        self.channels[str(event["channel"])] += 1
        if event["type"] == "purchase":
            self.purchases += 1
            self.net_spend += Decimal(str(event["payload"]["amount"]))
        elif event["type"] == "return":
            self.net_spend -= Decimal(str(event["payload"]["amount"]))

    def key(self) -> tuple[int, Decimal, dict[str, int]]:
        """The compared part."""
        return self.purchases, self.net_spend, dict(sorted(self.channels.items()))


def observed_figures(view: dict[str, Any]) -> Figures:
    """The compared figures of a customer view as the API returns it."""
    rfm = view["rfm"]
    counts = view["channels"]["counts"]
    return Figures(
        purchases=int(rfm["frequency"]),
        net_spend=Decimal(str(rfm["monetary"])),
        channels=Counter({str(k): int(v) for k, v in counts.items() if int(v)}),
    )


@dataclass(frozen=True)
class TopicAnomalies:
    """Where the interactions topic disagrees with the client's ledger."""

    missing: list[str]
    """Accepted (2xx) but never written to the topic: lost by ingest."""
    unexpected: list[str]
    """On the topic, but the client never got a 2xx for them."""
    split: dict[str, list[str]]
    """One event_id keyed by more than one customer (each would count it once)."""


def find_topic_anomalies(
    accepted: set[str], keyed_by: dict[str, list[str]], sent: set[str]
) -> TopicAnomalies:
    """Compare the accepted event_ids with the customers the topic keyed them by."""
    ours = {event_id: owners for event_id, owners in keyed_by.items() if event_id in sent}
    return TopicAnomalies(
        missing=sorted(accepted - ours.keys()),
        unexpected=sorted(ours.keys() - accepted),
        split={e: sorted(set(o)) for e, o in sorted(ours.items()) if len(set(o)) > 1},
    )


def expected_by_customer(
    events: list[Event], keyed_by: dict[str, list[str]], survivor: dict[str, str]
) -> dict[str, Figures]:
    """Each accepted event counted once, under the survivor of every customer it was keyed by."""
    expected: dict[str, Figures] = defaultdict(Figures)
    seen: set[str] = set()
    for event in events:
        event_id = str(event["event_id"])
        if event_id in seen:
            continue
        seen.add(event_id)
        for owner in sorted({survivor.get(c, c) for c in keyed_by.get(event_id, [])}):
            expected[owner].add(event)
    return dict(expected)


@dataclass
class Mismatch:
    """One customer whose view differs from the client's count."""

    customer_id: str
    expected: tuple[int, Decimal, dict[str, int]] | None
    observed: tuple[int, Decimal, dict[str, int]] | None
    event_ids: list[str]
    diagnosis: list[str] = field(default_factory=list)
    """Which event ids the timeline lacks or repeats, and the fault nearest each."""

    def describe(self) -> str:
        """The customer, both figures, how many events are involved, and the diagnosis."""
        head = (
            f"customer {self.customer_id}: expected (purchases, net spend, channels) "
            f"{self.expected}, view {self.observed}; {len(self.event_ids)} accepted events"
        )
        return "\n    ".join([head, *self.diagnosis])


def diagnose_timeline(expected_ids: list[str], timeline_ids: list[str]) -> dict[str, list[str]]:
    """Event ids the timeline lacks, repeats, or holds without the client expecting them here."""
    counts = Counter(timeline_ids)
    return {
        "missing": sorted(set(expected_ids) - counts.keys()),
        "repeated": sorted(e for e, n in counts.items() if n > 1),
        "unexpected": sorted(counts.keys() - set(expected_ids)),
    }


def compare(expected: dict[str, Figures], observed: dict[str, Figures | None]) -> list[Mismatch]:
    """Customers whose view (None: 404) differs from the expected figures."""
    mismatches = []
    for customer_id in sorted(expected.keys() | observed.keys()):
        want = expected.get(customer_id)
        got = observed.get(customer_id)
        want_key = want.key() if want is not None else None
        got_key = got.key() if got is not None else None
        if got_key == (0, Decimal(0), {}) and want_key is None:
            continue
        if want_key != got_key:
            ids = want.event_ids if want is not None else []
            mismatches.append(Mismatch(customer_id, want_key, got_key, ids))
    return mismatches
