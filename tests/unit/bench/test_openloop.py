"""The constant-rate generator's scheduling and accounting, and the freshness bookkeeping."""

from __future__ import annotations

import asyncio
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.at_rate import FreshRun
from bench.memory import process_tree_rss
from bench.openloop import Schedule, admit, run_open_loop

rates = st.floats(min_value=0.5, max_value=10_000, allow_nan=False, allow_infinity=False)
durations = st.floats(min_value=0.01, max_value=30, allow_nan=False, allow_infinity=False)


@given(rate=rates, seconds=durations, data=st.data())
def test_each_request_is_due_from_its_scheduled_time_on(
    rate: float, seconds: float, data: st.DataObject
) -> None:
    """Request i counts as due exactly from start + i / rate: at that instant i + 1 requests
    are due, a little before it only i; nothing is due before the start, never more than
    the total."""
    schedule = Schedule(rate, seconds)
    index = data.draw(st.integers(min_value=0, max_value=schedule.total - 1))
    assert schedule.due(schedule.at(index)) >= index + 1
    assert schedule.due(schedule.at(index) - 0.25 / rate) <= index
    assert schedule.due(-0.001) == 0
    assert schedule.due(seconds * 10 + 1) == schedule.total


@given(rate=rates, seconds=durations, times=st.lists(st.floats(0, 60), min_size=2))
def test_due_counts_never_go_back(rate: float, seconds: float, times: list[float]) -> None:
    """Later instants have at least as many requests due (the generator only moves forward)."""
    schedule = Schedule(rate, seconds)
    counts = [schedule.due(t) for t in sorted(times)]
    assert counts == sorted(counts)


@given(
    next_index=st.integers(0, 1000),
    new=st.integers(0, 1000),
    outstanding=st.integers(0, 300),
    cap=st.integers(1, 300),
)
def test_admit_sends_up_to_the_cap_and_drops_the_rest(
    next_index: int, new: int, outstanding: int, cap: int
) -> None:
    """Every newly due request is either sent or dropped, in order; sent ones never take the
    outstanding count past the cap; nothing is dropped while there is room."""
    sent, dropped = admit(
        due=next_index + new, next_index=next_index, outstanding=outstanding, cap=cap
    )
    assert [*sent, *dropped] == list(range(next_index, next_index + new))
    assert outstanding + len(sent) <= max(cap, outstanding)
    if dropped:
        assert outstanding + len(sent) >= cap


def test_admit_with_nothing_new_due_sends_nothing() -> None:
    """A wake-up with no newly due request sends and drops nothing."""
    assert admit(due=5, next_index=5, outstanding=0, cap=4) == (range(5, 5), range(5, 5))


def test_a_schedule_must_send_something() -> None:
    """A zero rate or a zero duration is refused rather than sending nothing."""
    with pytest.raises(ValueError, match="positive"):
        Schedule(0, 1)
    with pytest.raises(ValueError, match="positive"):
        Schedule(10, 0)


async def test_every_scheduled_request_is_completed_failed_or_dropped() -> None:
    """Against a fake service that never answers some requests and fails others, each
    scheduled request is counted once: completed + errors + dropped == scheduled, latencies
    are not negative, and at most the cap is ever outstanding."""
    never = asyncio.Event()

    async def call(index: int) -> int:
        if index % 5 == 0:
            await never.wait()  # hangs: holds a slot until the drain gives up on it
        if index % 7 == 0:
            raise ConnectionResetError
        return 503 if index % 3 == 0 else 200

    result = await run_open_loop(
        call, rate=400, seconds=0.25, ok={200}, max_outstanding=8, drain_s=0.05
    )
    assert result.scheduled == 100
    assert result.completed + result.error_count + result.dropped == result.scheduled
    assert result.dropped > 0, "hanging requests fill the cap: later ones must be dropped"
    assert result.errors["no answer in time"] == 8
    assert result.peak_outstanding <= 8
    assert all(latency >= 0 for latency in result.latencies)
    assert {"503", "ConnectionResetError"} <= set(result.errors)
    assert "dropped" in result.describe()


async def test_a_fast_service_gets_every_request() -> None:
    """When the service answers at once nothing is dropped and every request completes."""

    async def call(index: int) -> int:
        return 200

    result = await run_open_loop(call, rate=200, seconds=0.1, ok={200}, max_outstanding=4)
    assert (result.completed, result.error_count, result.dropped) == (20, 0, 0)
    assert result.achieved > 0


def test_an_event_is_visible_only_once_its_key_is_committed_after_its_202() -> None:
    """Freshness bookkeeping: an event counts as visible at the first poll that began after
    its 202 and found its dedup key; others stay pending."""
    run = FreshRun()
    run.acknowledge("c1", 11, at=1.0)
    run.acknowledge("c1", 12, at=1.5)
    run.acknowledge("c2", 21, at=1.0)
    run.observe("c1", {11, 12}, polled_at=1.2)  # 12 was acknowledged after the poll began
    assert run.delays == [pytest.approx(0.2)]
    assert run.unseen == 2
    run.observe("c1", {11, 12}, polled_at=1.6)
    run.observe("c2", {99}, polled_at=1.6)
    assert run.delays == [pytest.approx(0.2), pytest.approx(0.1)]
    assert run.pending == {"c2": [(21, 1.0)]}
    assert run.accepted == 3


def test_rss_of_a_running_process_and_of_a_gone_one() -> None:
    """The RSS of this very process is positive; a pid that does not exist gives None."""
    assert (process_tree_rss(os.getpid()) or 0) > 0
    assert process_tree_rss(2**22 + 12345) is None
