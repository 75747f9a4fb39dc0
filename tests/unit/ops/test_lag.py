"""Pure lag arithmetic: offset lag, time lag, group totals, the official tool's table."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from touchpoint_common.ops.describe_table import parse_describe_table
from touchpoint_common.ops.lag import (
    GroupState,
    PartitionOffsets,
    build_report,
    compute_offset_lag,
    compute_partition_lag,
    compute_time_lag,
)

offsets = st.integers(min_value=0, max_value=10**12)
NOW_MS = 1_800_000_000_000


@given(committed=offsets, extra=offsets)
def test_offset_lag_is_log_end_minus_committed(committed: int, extra: int) -> None:
    """Lag is exactly log-end minus committed for any committed position."""
    assert compute_offset_lag(committed=committed, log_end=committed + extra) == extra


@given(log_end=offsets)
def test_no_committed_position_is_unknown_not_zero(log_end: int) -> None:
    """No commit (None, or Kafka's -1) gives None, which the tool prints as "-"; never 0."""
    assert compute_offset_lag(committed=None, log_end=log_end) is None
    assert compute_offset_lag(committed=-1, log_end=log_end) is None
    entry = compute_partition_lag(
        PartitionOffsets(group="g", topic="t", partition=0, committed=-1, log_end=log_end),
        now_ms=NOW_MS,
    )
    assert entry.lag is None
    assert entry.committed is None
    assert entry.lag_seconds is None


@given(committed=offsets, oldest_age_ms=st.integers(min_value=0, max_value=10**9))
def test_caught_up_time_lag_is_zero_whatever_the_timestamp(
    committed: int, oldest_age_ms: int
) -> None:
    """A group at the log end has time lag 0, even if an old timestamp is passed."""
    lag = compute_time_lag(
        committed=committed,
        log_end=committed,
        oldest_unconsumed_ms=NOW_MS - oldest_age_ms,
        now_ms=NOW_MS,
    )
    assert lag == 0.0


@given(
    committed=offsets,
    backlog=st.integers(min_value=1, max_value=10**6),
    age_ms=st.integers(min_value=0, max_value=10**9),
)
def test_time_lag_is_the_age_of_the_oldest_unconsumed_record(
    committed: int, backlog: int, age_ms: int
) -> None:
    """With a backlog, time lag is now minus the timestamp of the record at the position."""
    lag = compute_time_lag(
        committed=committed,
        log_end=committed + backlog,
        oldest_unconsumed_ms=NOW_MS - age_ms,
        now_ms=NOW_MS,
    )
    assert lag == age_ms / 1000


def test_time_lag_with_clock_skew_is_not_negative() -> None:
    """A record stamped in the future (producer clock ahead) gives 0 seconds, not negative."""
    lag = compute_time_lag(
        committed=0, log_end=5, oldest_unconsumed_ms=NOW_MS + 3_000, now_ms=NOW_MS
    )
    assert lag == 0.0


def test_time_lag_unknown_when_the_record_could_not_be_read() -> None:
    """A backlog whose oldest record was not fetched gives None, not a made-up age."""
    assert (
        compute_time_lag(committed=0, log_end=5, oldest_unconsumed_ms=None, now_ms=NOW_MS) is None
    )


partition_rows = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=31),
        st.one_of(st.none(), st.integers(min_value=0, max_value=1000)),
        st.integers(min_value=0, max_value=1000),
    ),
    unique_by=lambda row: row[0],
    max_size=12,
)


@given(rows=partition_rows)
def test_group_totals_sum_and_max_only_known_lags(
    rows: list[tuple[int, int | None, int]],
) -> None:
    """sum_lag and max_lag cover partitions with a position; the others are counted apart."""
    entries = [
        PartitionOffsets(
            group="g",
            topic="t",
            partition=partition,
            committed=None if committed is None else min(committed, log_end),
            log_end=log_end,
        )
        for partition, committed, log_end in rows
    ]
    report = build_report(entries, now_ms=NOW_MS, groups=["g"])
    group = report.get_group("g")
    assert group is not None
    expected = [e.log_end - e.committed for e in entries if e.committed is not None]
    assert group.sum_lag == sum(expected)
    assert group.max_lag == max(expected, default=0)
    assert group.uncommitted_partitions == sum(1 for e in entries if e.committed is None)
    assert [p.partition for p in group.partitions] == sorted(p for p, _, _ in rows)


def test_report_keeps_named_groups_without_partitions_and_their_state() -> None:
    """A configured group with no offsets still appears, with zero totals and its state."""
    report = build_report(
        [PartitionOffsets(group="b", topic="t", partition=0, committed=1, log_end=4)],
        now_ms=NOW_MS,
        groups=["a"],
        states={
            "a": GroupState(state="Empty", members=0),
            "b": GroupState(state="Stable", members=2),
        },
    )
    assert [g.group for g in report.groups] == ["a", "b"]
    first, second = report.groups
    assert (first.sum_lag, first.max_lag, first.state, first.partitions) == (0, 0, "Empty", ())
    assert (second.sum_lag, second.state, second.members) == (3, "Stable", 2)


def test_negative_lag_is_reported_as_the_tool_does_but_not_summed() -> None:
    """Committed past the log end (topic recreated) shows the raw difference, sums count 0."""
    report = build_report(
        [PartitionOffsets(group="g", topic="t", partition=0, committed=9, log_end=4)],
        now_ms=NOW_MS,
    )
    group = report.groups[0]
    assert group.partitions[0].lag == -5
    assert (group.sum_lag, group.max_lag) == (0, 0)


DESCRIBE_OUTPUT = """
Consumer group 'ops-test' has no active members.

GROUP  TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID  HOST  CLIENT-ID
ops-test  orders  1  4  9  5  -  -  -
ops-test  orders  0  10  10  0  -  -  -
ops-test  orders  2  -  7  -  consumer-1-ab  /127.0.0.1  consumer-1
"""


def test_parse_describe_table_reads_numbers_and_dashes() -> None:
    """Rows are parsed by header name, "-" becomes None, notices are skipped, rows sorted."""
    rows = parse_describe_table(DESCRIBE_OUTPUT)
    assert [(r.partition, r.current_offset, r.log_end_offset, r.lag) for r in rows] == [
        (0, 10, 10, 0),
        (1, 4, 9, 5),
        (2, None, 7, None),
    ]
    assert {r.group for r in rows} == {"ops-test"}
    assert {r.topic for r in rows} == {"orders"}


def test_parse_describe_table_without_a_table_is_empty() -> None:
    """Output with no table (e.g. a group that does not exist) yields no rows."""
    assert parse_describe_table("Consumer group 'x' does not exist.\n") == []
