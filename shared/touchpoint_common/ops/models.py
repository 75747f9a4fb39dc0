"""JSON shapes of GET /v1/ops/lag."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from touchpoint_common.ops.lag import GroupLag, LagReport, PartitionLag


class PartitionLagOut(BaseModel):
    """One partition; null where kafka-consumer-groups prints "-"."""

    topic: str
    partition: int
    current_offset: int | None = Field(description="Committed offset; null when none.")
    log_end_offset: int
    lag: int | None = Field(description="log_end_offset - current_offset; null when no commit.")
    lag_seconds: float | None = Field(description="Age of the oldest unconsumed record; 0 if none.")

    @classmethod
    def from_lag(cls, entry: PartitionLag) -> PartitionLagOut:
        """From the pure figures."""
        return cls(
            topic=entry.topic,
            partition=entry.partition,
            current_offset=entry.committed,
            log_end_offset=entry.log_end,
            lag=entry.lag,
            lag_seconds=entry.lag_seconds,
        )


class GroupLagOut(BaseModel):
    """One consumer group and its totals."""

    group: str
    state: str | None
    members: int
    sum_lag: int
    max_lag: int
    max_lag_seconds: float
    uncommitted_partitions: int
    partitions: list[PartitionLagOut]

    @classmethod
    def from_lag(cls, group: GroupLag) -> GroupLagOut:
        """From the pure figures."""
        return cls(
            group=group.group,
            state=group.state,
            members=group.members,
            sum_lag=group.sum_lag,
            max_lag=group.max_lag,
            max_lag_seconds=group.max_lag_seconds,
            uncommitted_partitions=group.uncommitted_partitions,
            partitions=[PartitionLagOut.from_lag(entry) for entry in group.partitions],
        )


class LagReportOut(BaseModel):
    """Every watched group's lag at one moment."""

    collected_at: datetime
    age_seconds: float
    groups: list[GroupLagOut]

    @classmethod
    def from_report(
        cls, report: LagReport, *, now: datetime, group: str | None = None
    ) -> LagReportOut:
        """From the pure report, optionally narrowed to one group."""
        collected_at = datetime.fromtimestamp(report.collected_at_ms / 1000, tz=UTC)
        return cls(
            collected_at=collected_at,
            age_seconds=max(0.0, (now - collected_at).total_seconds()),
            groups=[
                GroupLagOut.from_lag(entry)
                for entry in report.groups
                if group is None or entry.group == group
            ],
        )
