"""Load shedding: the in-flight ceiling and the coalescer's bounded queue refuse, never grow."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from touchpoint_ingest.events.admission import Admission
from touchpoint_ingest.events.coalesce import Coalescer, Overloaded
from touchpoint_ingest.events.outcomes import ItemOutcome


def test_admission_refuses_beyond_its_limit_and_frees_slots() -> None:
    """Two slots: the third request is refused until one leaves."""
    admission = Admission(limit=2)
    assert admission.try_enter()
    assert admission.try_enter()
    assert not admission.try_enter()
    admission.leave()
    assert admission.try_enter()


async def test_coalescer_queue_is_bounded_in_events() -> None:
    """With the worker busy, requests queue up to max_queued_events; the next is Overloaded."""
    release = asyncio.Event()

    async def pipeline(events: Sequence[Any], paths: Sequence[Any]) -> list[ItemOutcome]:
        """Blocks until released; one (fake) outcome per event."""
        await release.wait()
        return [ItemOutcome(event_id=event, status="accepted") for event in events]  # type: ignore[arg-type]

    coalescer = Coalescer(pipeline, workers=1, max_events=10, max_queued_events=5)
    running = asyncio.create_task(coalescer.submit(["a"], [()]))  # type: ignore[list-item]
    await asyncio.sleep(0.01)  # the worker takes it and blocks
    queued = [
        asyncio.create_task(coalescer.submit(["b", "c", "d"], [(), (), ()])),  # type: ignore[list-item]
        asyncio.create_task(coalescer.submit(["e", "f"], [(), ()])),  # type: ignore[list-item]
    ]
    await asyncio.sleep(0.01)
    assert coalescer.queued_events == 5
    with pytest.raises(Overloaded):
        await coalescer.submit(["g"], [()])  # type: ignore[list-item]
    release.set()
    assert [o.event_id for o in await running] == ["a"]
    assert [[o.event_id for o in await task] for task in queued] == [["b", "c", "d"], ["e", "f"]]
    assert coalescer.queued_events == 0
    await coalescer.close()


async def test_an_empty_queue_takes_any_request() -> None:
    """A single request larger than the queue bound still goes through when nothing waits."""

    async def pipeline(events: Sequence[Any], paths: Sequence[Any]) -> list[ItemOutcome]:
        """One (fake) outcome per event."""
        return [ItemOutcome(event_id=event, status="accepted") for event in events]  # type: ignore[arg-type]

    coalescer = Coalescer(pipeline, workers=1, max_events=10, max_queued_events=2)
    outcomes = await coalescer.submit(list("abcde"), [()] * 5)  # type: ignore[arg-type]
    assert len(outcomes) == 5
    await coalescer.close()
