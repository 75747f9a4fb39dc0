"""Lag as Prometheus metrics, named and labelled like kafka-lag-exporter's."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from touchpoint_common.ops.lag import GroupLag, LagReport, PartitionLag
from touchpoint_common.ops.monitor import LagMonitor

PARTITION_LABELS = ["group", "topic", "partition"]
Source = TypeVar("Source")


def _newest_per_group(reports: Iterable[LagReport]) -> list[GroupLag]:
    newest: dict[str, tuple[int, GroupLag]] = {}
    for report in reports:
        for group in report.groups:
            seen = newest.get(group.group)
            if seen is None or seen[0] < report.collected_at_ms:
                newest[group.group] = (report.collected_at_ms, group)
    return [newest[name][1] for name in sorted(newest)]


@dataclass(frozen=True)
class _Gauge(Generic[Source]):
    """One gauge family: its name, its help text, and its value for a partition or a group."""

    name: str
    documentation: str
    value: Callable[[Source], float | None]
    """None: no sample (where kafka-consumer-groups prints "-")."""


_PARTITION_GAUGES: tuple[_Gauge[PartitionLag], ...] = (
    _Gauge(
        "kafka_consumergroup_group_lag",
        "Offset lag of a group on a partition (log-end offset minus committed offset).",
        lambda entry: entry.lag,
    ),
    _Gauge(
        "kafka_consumergroup_group_lag_seconds",
        "Age in seconds of the oldest record the group has not consumed on a partition.",
        lambda entry: entry.lag_seconds,
    ),
    _Gauge(
        "kafka_consumergroup_group_offset",
        "Committed offset of a group on a partition.",
        lambda entry: entry.committed,
    ),
)
_GROUP_GAUGES: tuple[_Gauge[GroupLag], ...] = (
    _Gauge(
        "kafka_consumergroup_group_max_lag",
        "Largest partition lag of a group.",
        lambda group: group.max_lag,
    ),
    _Gauge(
        "kafka_consumergroup_group_max_lag_seconds",
        "Largest partition time lag of a group, in seconds.",
        lambda group: group.max_lag_seconds,
    ),
    _Gauge(
        "kafka_consumergroup_group_sum_lag",
        "Sum of a group's partition lags.",
        lambda group: group.sum_lag,
    ),
    _Gauge(
        "touchpoint_ops_group_uncommitted_partitions",
        "Partitions a group is assigned or knows of but has no committed position on.",
        lambda group: group.uncommitted_partitions,
    ),
    _Gauge(
        "touchpoint_ops_group_members",
        "Live members of a consumer group.",
        lambda group: group.members,
    ),
)


def _add_sample(family: GaugeMetricFamily, labels: list[str], value: float | None) -> None:
    """One sample, unless the value is unknown."""
    if value is not None:
        family.add_metric(labels, value)


def build_lag_metrics(reports: Sequence[LagReport]) -> list[Metric]:
    """Metric families for the given reports; where reports overlap, the newest group wins."""
    per_partition = [
        (GaugeMetricFamily(gauge.name, gauge.documentation, labels=PARTITION_LABELS), gauge)
        for gauge in _PARTITION_GAUGES
    ]
    per_group = [
        (GaugeMetricFamily(gauge.name, gauge.documentation, labels=["group"]), gauge)
        for gauge in _GROUP_GAUGES
    ]
    latest = GaugeMetricFamily(
        "kafka_partition_latest_offset",
        "Log-end offset of a partition.",
        labels=["topic", "partition"],
    )
    log_ends: dict[tuple[str, str], int] = {}
    for group in _newest_per_group(reports):
        for entry in group.partitions:
            labels = [group.group, entry.topic, str(entry.partition)]
            log_ends[(entry.topic, str(entry.partition))] = entry.log_end
            for family, partition_gauge in per_partition:
                _add_sample(family, labels, partition_gauge.value(entry))
        for family, group_gauge in per_group:
            _add_sample(family, [group.group], group_gauge.value(group))
    for (topic, partition), value in sorted(log_ends.items()):
        latest.add_metric([topic, partition], value)
    return [
        *(family for family, _ in per_partition),
        latest,
        *(family for family, _ in per_group),
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
