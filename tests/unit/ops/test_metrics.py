"""Lag reports rendered as Prometheus metrics with kafka-lag-exporter names."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from touchpoint_common.ops.collector import LagCollector
from touchpoint_common.ops.lag import PartitionOffsets, build_report
from touchpoint_common.ops.metrics import LagMetricsCollector, build_lag_metrics
from touchpoint_common.ops.monitor import LagMonitor
from touchpoint_common.ops.settings import OpsSettings


def _samples(
    collector: LagMetricsCollector,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _report(now_ms: int, committed: int | None, log_end: int, oldest_ms: int | None = None):
    return build_report(
        [
            PartitionOffsets(
                group="g",
                topic="t",
                partition=0,
                committed=committed,
                log_end=log_end,
                oldest_unconsumed_ms=oldest_ms,
            ),
            PartitionOffsets(group="g", topic="t", partition=1, committed=None, log_end=3),
        ],
        now_ms=now_ms,
    )


def test_metric_names_labels_and_values() -> None:
    """Partition lag, time lag and group totals carry the figures of the report."""
    now_ms = int(time.time() * 1000)
    families = {f.name: f for f in build_lag_metrics([_report(now_ms, 2, 7, now_ms - 4000)])}
    lag = families["kafka_consumergroup_group_lag"]
    assert [(s.labels, s.value) for s in lag.samples] == [
        ({"group": "g", "topic": "t", "partition": "0"}, 5)
    ]
    seconds = families["kafka_consumergroup_group_lag_seconds"].samples
    assert [s.value for s in seconds] == [4.0]
    assert families["kafka_consumergroup_group_sum_lag"].samples[0].value == 5
    assert families["kafka_consumergroup_group_max_lag"].samples[0].value == 5
    assert families["touchpoint_ops_group_uncommitted_partitions"].samples[0].value == 1
    latest = {
        s.labels["partition"]: s.value for s in families["kafka_partition_latest_offset"].samples
    }
    assert latest == {"0": 7, "1": 3}


def test_newest_report_wins_per_group() -> None:
    """Two monitors reporting one group export one series: the newer figure."""
    now_ms = int(time.time() * 1000)
    older, newer = _report(now_ms - 5000, 2, 7), _report(now_ms, 2, 9)
    families = {f.name: f for f in build_lag_metrics([newer, older])}
    assert [s.value for s in families["kafka_consumergroup_group_lag"].samples] == [7]


def test_stale_report_is_not_exported_but_monitor_health_is() -> None:
    """A report older than lag_stale_after_s disappears from /metrics; errors stay visible."""
    settings = OpsSettings(lag_stale_after_s=30)
    monitor = LagMonitor(
        name="svc", collector=LagCollector(bootstrap="localhost:1"), settings=settings
    )
    collector = LagMetricsCollector()
    collector.add(monitor)
    now_ms = int(time.time() * 1000)
    monitor.latest = _report(now_ms, 1, 4)
    monitor.errors = 2
    fresh = _samples(collector)
    lag_key = (
        "kafka_consumergroup_group_lag",
        (("group", "g"), ("partition", "0"), ("topic", "t")),
    )
    assert fresh[lag_key] == 3
    monitor.latest = _report(now_ms - 31_000, 1, 4)
    stale = _samples(collector)
    assert lag_key not in stale
    assert stale[("touchpoint_ops_lag_collect_errors_total", (("service", "svc"),))] == 2
    collector.remove(monitor)
    assert ("touchpoint_ops_lag_collect_errors_total", (("service", "svc"),)) not in _samples(
        collector
    )


def test_group_list_from_environment_is_comma_separated(monkeypatch) -> None:
    """TOUCHPOINT_OPS_LAG_GROUPS="a, b" configures two groups; empty means every group."""
    monkeypatch.setenv("TOUCHPOINT_OPS_LAG_GROUPS", "touchpoint-profile, touchpoint-recommend")
    assert OpsSettings().lag_groups == ["touchpoint-profile", "touchpoint-recommend"]
    monkeypatch.setenv("TOUCHPOINT_OPS_LAG_GROUPS", "")
    assert OpsSettings().lag_groups == []
