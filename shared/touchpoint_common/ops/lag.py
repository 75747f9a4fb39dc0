"""Consumer-lag arithmetic, free of I/O: offsets in, lag figures out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, order=True)
class PartitionOffsets:
    """What the broker says about one partition for one group, at one moment.

    `committed` is None when the group has no committed position there; `oldest_unconsumed_ms`
    is the timestamp of the record at the committed position (None when unknown or caught up).
    """

    group: str
    topic: str
    partition: int
    committed: int | None
    log_end: int
    oldest_unconsumed_ms: int | None = None


@dataclass(frozen=True, kw_only=True)
class PartitionLag:
    """Lag of one group on one partition; None where Kafka's own tool prints "-"."""

    group: str
    topic: str
    partition: int
    committed: int | None
    log_end: int
    lag: int | None
    lag_seconds: float | None


@dataclass(frozen=True, kw_only=True)
class GroupState:
    """The coordinator's view of a group: its state (Stable, Empty, ...) and live members."""

    state: str
    members: int


@dataclass(frozen=True, kw_only=True)
class GroupLag:
    """A group's partitions and their totals; partitions without a position are not summed."""

    group: str
    state: str | None
    members: int
    partitions: tuple[PartitionLag, ...]
    sum_lag: int
    max_lag: int
    max_lag_seconds: float
    uncommitted_partitions: int


@dataclass(frozen=True, kw_only=True)
class LagReport:
    """Every group's lag as collected at `collected_at_ms` (epoch milliseconds)."""

    collected_at_ms: int
    groups: tuple[GroupLag, ...]

    def get_group(self, group: str) -> GroupLag | None:
        """The named group's lag, or None when it was not collected."""
        return next((entry for entry in self.groups if entry.group == group), None)


def compute_offset_lag(*, committed: int | None, log_end: int) -> int | None:
    """Log-end minus committed offset, as kafka-consumer-groups computes it; None if unset."""
    if committed is None or committed < 0:
        return None
    return log_end - committed


def compute_time_lag(
    *, committed: int | None, log_end: int, oldest_unconsumed_ms: int | None, now_ms: int
) -> float | None:
    """Age in seconds of the oldest record the group has not consumed; 0 when caught up."""
    lag = compute_offset_lag(committed=committed, log_end=log_end)
    if lag is None:
        return None
    if lag <= 0:
        return 0.0
    if oldest_unconsumed_ms is None:
        return None
    return max(0.0, (now_ms - oldest_unconsumed_ms) / 1000.0)


def compute_partition_lag(offsets: PartitionOffsets, *, now_ms: int) -> PartitionLag:
    """Offset lag and time lag of one partition."""
    committed = (
        offsets.committed if offsets.committed is not None and offsets.committed >= 0 else None
    )
    return PartitionLag(
        group=offsets.group,
        topic=offsets.topic,
        partition=offsets.partition,
        committed=committed,
        log_end=offsets.log_end,
        lag=compute_offset_lag(committed=offsets.committed, log_end=offsets.log_end),
        lag_seconds=compute_time_lag(
            committed=offsets.committed,
            log_end=offsets.log_end,
            oldest_unconsumed_ms=offsets.oldest_unconsumed_ms,
            now_ms=now_ms,
        ),
    )


def summarize_group(
    group: str, partitions: Iterable[PartitionLag], *, state: GroupState | None = None
) -> GroupLag:
    """Totals of one group: sum and max of known lags (negative lags count as 0)."""
    ordered = tuple(sorted(partitions, key=lambda entry: (entry.topic, entry.partition)))
    known = [max(entry.lag, 0) for entry in ordered if entry.lag is not None]
    seconds = [entry.lag_seconds for entry in ordered if entry.lag_seconds is not None]
    return GroupLag(
        group=group,
        state=state.state if state else None,
        members=state.members if state else 0,
        partitions=ordered,
        sum_lag=sum(known),
        max_lag=max(known, default=0),
        max_lag_seconds=max(seconds, default=0.0),
        uncommitted_partitions=sum(1 for entry in ordered if entry.lag is None),
    )


def build_report(
    offsets: Sequence[PartitionOffsets],
    *,
    now_ms: int,
    groups: Iterable[str] = (),
    states: Mapping[str, GroupState] | None = None,
) -> LagReport:
    """A report over every group named in `groups` or present in `offsets`, sorted by name."""
    known_states = states or {}
    by_group: dict[str, list[PartitionLag]] = {name: [] for name in groups}
    for entry in offsets:
        by_group.setdefault(entry.group, []).append(compute_partition_lag(entry, now_ms=now_ms))
    return LagReport(
        collected_at_ms=now_ms,
        groups=tuple(
            summarize_group(name, by_group[name], state=known_states.get(name))
            for name in sorted(by_group)
        ),
    )
