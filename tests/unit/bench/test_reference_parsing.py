"""The reference sections' pure parts: the perf test's summary line, the Quix app's stop rule
and what its window aggregates of one record."""

from __future__ import annotations

import pytest

from bench.kafka_reference import (
    MAX_RECORDS,
    PILOT_RECORDS,
    parse_summary,
    perf_test_args,
    records_for,
)
from bench.quix_app import Progress, purchase_facts

OUTPUT = (
    "71851 records sent, 13900.4 records/sec (6.89 MB/sec), 676.1 ms avg latency, "
    "1530.0 ms max latency.\n"
    "500000 records sent, 35335.7 records/sec (17.52 MB/sec), 1250.41 ms avg latency, "
    "2445.00 ms max latency, 1200 ms 50th, 2317 ms 95th, 2407 ms 99th, 2430 ms 99.9th.\n"
)


def test_summary_is_the_closing_line_with_percentiles() -> None:
    """The closing line is parsed (the 5 s progress lines before it have no percentiles)."""
    summary = parse_summary(OUTPUT)
    assert summary.records == 500_000
    assert summary.records_per_s == pytest.approx(35335.7)
    assert summary.mb_per_s == pytest.approx(17.52)
    assert (summary.p50_ms, summary.p95_ms, summary.p99_ms, summary.p999_ms) == (
        1200,
        2317,
        2407,
        2430,
    )
    assert summary.avg_ms == pytest.approx(1250.41)
    assert summary.max_ms == 2445.0


def test_output_without_summary_is_an_error_quoting_it() -> None:
    """A run that printed no summary (e.g. killed) fails loudly with the output's tail."""
    with pytest.raises(ValueError, match="no summary line"):
        parse_summary(OUTPUT.splitlines()[0])


def test_perf_test_is_unthrottled_acks_all_idempotent() -> None:
    """The tool is asked for 520-byte records, no throttle, acks=all and idempotence."""
    args = perf_test_args(topic="t", records=10, bootstrap="127.0.0.1:9092")
    assert args[args.index("--record-size") + 1] == "520"
    assert args[args.index("--throughput") + 1] == "-1"
    assert {"acks=all", "enable.idempotence=true", "bootstrap.servers=127.0.0.1:9092"} <= set(args)


def test_app_stops_once_every_non_empty_partition_reached_its_end() -> None:
    """Progress stops the app exactly when the last partition's last offset is processed;
    an empty partition is not waited for."""
    stops: list[int] = []
    progress = Progress({0: 2, 1: 1, 2: 0})
    progress.stop = lambda: stops.append(progress.processed)
    progress.mark_first(None)
    progress.on_processed("t", 0, 0)
    progress.on_processed("t", 1, 0)
    assert stops == []
    progress.on_processed("t", 0, 1)
    assert stops == [3]
    assert progress.first is not None
    assert progress.last is not None


def test_window_input_is_spend_and_time_of_purchases_only() -> None:
    """A purchase contributes its amount and event time; any other event only its count."""
    purchase = {
        "type": "purchase",
        "occurred_at": "2026-10-02T23:19:06.424592Z",
        "payload": {"amount": "955.00"},
    }
    facts = purchase_facts(purchase)
    assert facts["purchase"] == 1
    assert facts["spend"] == pytest.approx(955.0)
    assert facts["purchase_ms"] == 1_790_983_146_424
    assert purchase_facts({"type": "page_view", "occurred_at": "x"}) == {
        "purchase": 0,
        "spend": 0.0,
        "purchase_ms": 0,
    }


@pytest.mark.parametrize(
    ("rate", "expected"),
    [(130_000.0, 1_950_000), (10_000.0, PILOT_RECORDS), (1e6, MAX_RECORDS)],
)
def test_measured_run_is_sized_to_about_fifteen_seconds(rate: float, expected: int) -> None:
    """The measured run's record count is the warm-up rate times 15 s, within its bounds."""
    assert records_for(rate) == expected
