"""Lag as Prometheus metrics, named and labelled like kafka-lag-exporter's."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from touchpoint_common.ops.lag import GroupLag, LagReport
from touchpoint_common.ops.monitor import LagMonitor

PARTITION_LABELS = ["group", "topic", "partition"]


def _newest_per_group(reports: Iterable[LagReport]) -> list[GroupLag]:
    newest: dict[str, tuple[int, GroupLag]] = {}
    for report in reports:
        for group in report.groups:
            seen = newest.get(group.group)
            if seen is None or seen[0] < report.collected_at_ms:
                newest[group.group] = (report.collected_at_ms, group)
    return [newest[name][1] for name in sorted(newest)]


def build_lag_metrics(reports: Sequence[LagReport]) -> list[Metric]:
    """Metric families for the given reports; where reports overlap, the newest group wins."""
    lag = GaugeMetricFamily(
        "kafka_consumergroup_group_lag",
        "Offset lag of a group on a partition (log-end offset minus committed offset).",
        labels=PARTITION_LABELS,
    )
    lag_seconds = GaugeMetricFamily(
        "kafka_consumergroup_group_lag_seconds",
        "Age in seconds of the oldest record the group has not consumed on a partition.",
        labels=PARTITION_LABELS,
    )
    offset = GaugeMetricFamily(
        "kafka_consumergroup_group_offset",
        "Committed offset of a group on a partition.",
        labels=PARTITION_LABELS,
    )
    latest = GaugeMetricFamily(
        "kafka_partition_latest_offset",
        "Log-end offset of a partition.",
        labels=["topic", "partition"],
    )
    max_lag = GaugeMetricFamily(
        "kafka_consumergroup_group_max_lag", "Largest partition lag of a group.", labels=["group"]
    )
    max_lag_seconds = GaugeMetricFamily(
        "kafka_consumergroup_group_max_lag_seconds",
        "Largest partition time lag of a group, in seconds.",
        labels=["group"],
    )
    sum_lag = GaugeMetricFamily(
        "kafka_consumergroup_group_sum_lag", "Sum of a group's partition lags.", labels=["group"]
    )
    uncommitted = GaugeMetricFamily(
        "touchpoint_ops_group_uncommitted_partitions",
        "Partitions a group is assigned or knows of but has no committed position on.",
        labels=["group"],
    )
    members = GaugeMetricFamily(
        "touchpoint_ops_group_members", "Live members of a consumer group.", labels=["group"]
    )
    log_ends: dict[tuple[str, str], int] = {}
    for group in _newest_per_group(reports):
        for entry in group.partitions:
            labels = [group.group, entry.topic, str(entry.partition)]
            log_ends[(entry.topic, str(entry.partition))] = entry.log_end
            if entry.lag is not None:
                lag.add_metric(labels, entry.lag)
            if entry.lag_seconds is not None:
                lag_seconds.add_metric(labels, entry.lag_seconds)
            if entry.committed is not None:
                offset.add_metric(labels, entry.committed)
        max_lag.add_metric([group.group], group.max_lag)
        max_lag_seconds.add_metric([group.group], group.max_lag_seconds)
        sum_lag.add_metric([group.group], group.sum_lag)
        uncommitted.add_metric([group.group], group.uncommitted_partitions)
        members.add_metric([group.group], group.members)
    for (topic, partition), value in sorted(log_ends.items()):
        latest.add_metric([topic, partition], value)
    return [
        lag,
        lag_seconds,
        offset,
        latest,
        max_lag,
        max_lag_seconds,
        sum_lag,
        uncommitted,
        members,
    ]


class LagMetricsCollector(Collector):
    """Reads the monitors' last reports only: a scrape never waits for the broker."""

    def __init__(self) -> None:
        self._monitors: list[LagMonitor] = []
        self._lock = threading.Lock()

    def add(self, monitor: LagMonitor) -> None:
        """Export this monitor's reports."""
        with self._lock:
            self._monitors.append(monitor)

    def remove(self, monitor: LagMonitor) -> None:
        """Stop exporting this monitor's reports."""
        with self._lock:
            if monitor in self._monitors:
                self._monitors.remove(monitor)

    def collect(self) -> Iterator[Metric]:
        """Lag families from fresh reports, plus each monitor's health."""
        with self._lock:
            monitors = list(self._monitors)
        fresh = [report for m in monitors if (report := m.get_fresh_report()) is not None]
        yield from build_lag_metrics(fresh)
        last_success = GaugeMetricFamily(
            "touchpoint_ops_lag_last_success_timestamp_seconds",
            "When the lag monitor last read the broker successfully (Unix time).",
            labels=["service"],
        )
        errors = CounterMetricFamily(
            "touchpoint_ops_lag_collect_errors",
            "Lag collections that failed or timed out.",
            labels=["service"],
        )
        for monitor in monitors:
            if monitor.last_success_s is not None:
                last_success.add_metric([monitor.name], monitor.last_success_s)
            errors.add_metric([monitor.name], monitor.errors)
        yield last_success
        yield errors

    def describe(self) -> Iterator[Metric]:
        """Nothing up front: families depend on what the broker reports."""
        return iter(())


LAG_METRICS = LagMetricsCollector()
REGISTRY.register(LAG_METRICS)
