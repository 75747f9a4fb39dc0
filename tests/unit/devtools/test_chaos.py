"""The chaos harness's pure parts: the fault plan, the retry rule and the view check."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from touchpoint_devtools.chaos.faults import FaultKind, InjectedFault, count_kinds, plan_faults
from touchpoint_devtools.chaos.run import ChaosConfig, ChaosReport, first_2xx_after
from touchpoint_devtools.chaos.verify import (
    Figures,
    compare,
    diagnose_timeline,
    expected_by_customer,
    find_topic_anomalies,
    observed_figures,
)
from touchpoint_devtools.generator.pacing import Pace, send_paced
from touchpoint_devtools.generator.recording import Ledger, is_retryable
from touchpoint_devtools.generator.traffic import Event, TrafficModel


@given(faults=st.integers(min_value=5, max_value=200))
def test_every_kind_is_injected_and_the_count_is_exact(faults: int) -> None:
    """From 5 faults on, each of the five kinds occurs, evenly, and the total is exact."""
    kinds = count_kinds(faults)
    assert len(kinds) == faults
    assert set(kinds) == set(FaultKind)
    counts = Counter(kinds).values()
    assert max(counts) - min(counts) <= 1


@given(
    faults=st.integers(min_value=1, max_value=100),
    duration=st.floats(min_value=10, max_value=3600),
    seed=st.integers(),
)
def test_faults_are_ordered_inside_the_load_one_per_slot(
    faults: int, duration: float, seed: int
) -> None:
    """Faults are in time order, inside the load, and each keeps 40% of its slot free."""
    plan = plan_faults(faults=faults, duration=duration, seed=seed)
    slot = duration / faults
    assert [p.at for p in plan] == sorted(p.at for p in plan)
    for index, planned in enumerate(plan):
        assert index * slot <= planned.at <= index * slot + 0.6 * slot + 1e-9
    assert plan == plan_faults(faults=faults, duration=duration, seed=seed)


def test_the_client_retries_outages_and_claims_in_progress_but_not_conflicts() -> None:
    """503/429/5xx and a 409 "in progress" are retried; a reused event_id (409) and 422 are not."""
    assert is_retryable(503, "", retry_after=True)
    assert is_retryable(429, "", retry_after=True)
    assert is_retryable(409, '{"detail": "being accepted"}', retry_after=True)
    assert is_retryable(409, '{"errors": [{"type": "event_id_in_progress"}]}', retry_after=False)
    assert not is_retryable(409, '{"detail": "already used"}', retry_after=False)
    assert not is_retryable(422, "", retry_after=False)


def event(event_id: str, kind: str, channel: str, amount: str | None = None) -> Event:
    """A generator-shaped event with only what the check reads."""
    payload = {"amount": amount} if amount is not None else {}
    return {"event_id": event_id, "type": kind, "channel": channel, "payload": payload}


def test_expected_figures_follow_the_topic_keys_and_merges() -> None:
    """Each accepted event counts once, under the survivor of the customer the topic keyed it by."""
    events = [
        event("e1", "purchase", "pos", "10.50"),
        event("e2", "return", "pos", "2.50"),
        event("e3", "page_view", "web"),
        event("e1", "purchase", "pos", "10.50"),  # sent twice, accepted once
    ]
    keyed_by = {"e1": ["c1", "c1"], "e2": ["c1"], "e3": ["c2"]}
    expected = expected_by_customer(events, keyed_by, {"c2": "c1"})
    assert set(expected) == {"c1"}
    assert expected["c1"].key() == (1, Decimal("8.00"), {"pos": 2, "web": 1})


def test_compare_reports_lost_and_double_counted_customers() -> None:
    """A view with one purchase too many, and a customer with no view, are both mismatches."""
    want = Figures(purchases=1, net_spend=Decimal("5"), channels=Counter({"pos": 1}))
    twice = Figures(purchases=2, net_spend=Decimal("10"), channels=Counter({"pos": 2}))
    mismatches = compare({"a": want, "b": want, "c": want}, {"a": want, "b": twice, "c": None})
    assert [m.customer_id for m in mismatches] == ["b", "c"]
    assert compare({"a": want}, {"a": want, "z": Figures()}) == []


def test_observed_figures_read_the_api_shape() -> None:
    """rfm.frequency, rfm.monetary (a decimal string) and channel counts are what is compared."""
    view = {"rfm": {"frequency": 2, "monetary": "12.30"}, "channels": {"counts": {"pos": 2}}}
    assert observed_figures(view).key() == (2, Decimal("12.30"), {"pos": 2})


def test_topic_anomalies_name_lost_unexpected_and_split_events() -> None:
    """Accepted but absent, present without a 2xx, and keyed by two customers are all named."""
    anomalies = find_topic_anomalies(
        accepted={"a", "b", "s"},
        keyed_by={"b": ["c1"], "x": ["c1"], "s": ["c1", "c2"], "other-run": ["c9"]},
        sent={"a", "b", "s", "x"},
    )
    assert anomalies.missing == ["a"]
    assert anomalies.unexpected == ["x"]
    assert anomalies.split == {"s": ["c1", "c2"]}


def test_the_diagnosis_names_missing_repeated_and_foreign_event_ids() -> None:
    """A mismatch is traced to event ids: lost, folded twice, or folded into this customer."""
    found = diagnose_timeline(["a", "b", "c"], ["a", "b", "b", "z"])
    assert found == {"missing": ["c"], "repeated": ["b"], "unexpected": ["z"]}


def test_ingest_recovery_is_thefirst_2xx_after_each_fault_ends() -> None:
    """Per fault: seconds from its end to the next 2xx; faults after the last send are skipped."""
    report = ChaosReport(config=ChaosConfig(), load_started=100.0)
    report.faults = [
        InjectedFault(FaultKind.KILL_INGEST, at=10.0, outage_s=1.0, recovery_s=2.0),
        InjectedFault(FaultKind.RESTART_KAFKA, at=20.0, outage_s=5.0, recovery_s=0.5),
        InjectedFault(FaultKind.STOP_POSTGRES, at=90.0, outage_s=30.0, recovery_s=0.1),
    ]
    ledger = Ledger()
    ledger.first_sent = {"a": 105.0, "b": 112.0, "c": 150.0}
    ledger.accepted_at = {"a": 105.5, "b": 113.0, "c": 160.0}
    assert first_2xx_after(report, ledger) == {
        str(FaultKind.KILL_INGEST): [2.0],
        str(FaultKind.RESTART_KAFKA): [35.0],
    }


async def test_the_paced_sender_starts_nothing_after_its_stop() -> None:
    """A load told to stop at once sends only the first event, however many were planned."""
    posted: list[Event] = []

    async def post(event: Event) -> None:
        posted.append(event)

    pace = Pace(total=1000, rate=1.0, concurrency=4, stop_after=0.0)
    await send_paced(TrafficModel(customers=5, seed=1), pace, post)
    assert len(posted) <= 1
