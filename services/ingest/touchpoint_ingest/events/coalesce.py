"""Group commit: requests arriving together go through the accept pipeline as one pass.

Each pass costs a few database round trips (claim, resolve, commit, record) and one wait for
the broker, whatever its size, so merging concurrent requests divides that cost among them.
Nothing waits on purpose: a worker takes whatever is queued when it becomes free, so an idle
service answers a lone request at once. A request's events stay together and in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from touchpoint_common.observability.tracing import TraceContext, capture, start_span
from touchpoint_ingest.events.outcomes import ItemOutcome
from touchpoint_ingest.events.validation import Path, ValidEvent

logger = logging.getLogger(__name__)


class Overloaded(Exception):
    """The queue already holds as many events as allowed: the request is refused (503)."""


Pipeline = Callable[[Sequence[ValidEvent], Sequence[Path]], Awaitable[list[ItemOutcome]]]


@dataclass
class _Job:
    events: Sequence[ValidEvent]
    paths: Sequence[Path]
    done: asyncio.Future[list[ItemOutcome]]
    trace: TraceContext | None = None


class Coalescer:
    """A queue of requests and `workers` tasks that run the pipeline on merged requests."""

    def __init__(
        self, pipeline: Pipeline, *, workers: int, max_events: int, max_queued_events: int
    ) -> None:
        self.pipeline = pipeline
        self.max_events = max_events
        self.max_queued_events = max_queued_events
        self.queued_events = 0
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        self.workers = [asyncio.create_task(self._work()) for _ in range(workers)]

    async def submit(
        self, events: Sequence[ValidEvent], paths: Sequence[Path]
    ) -> list[ItemOutcome]:
        """The outcomes of these events, once the pass that carried them has finished.

        Raises Overloaded when the queue holds too many events already (an empty queue
        always takes a request, however large).
        """
        if not events:
            return []
        if self.queued_events and self.queued_events + len(events) > self.max_queued_events:
            raise Overloaded(f"over {self.max_queued_events} events waiting")
        self.queued_events += len(events)
        trace = capture()
        if trace is not None:
            # The pass runs in a worker task: each event keeps its own request's context.
            events = [replace(event, trace=trace) for event in events]
        done: asyncio.Future[list[ItemOutcome]] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait(_Job(events, paths, done, trace))
        # A client that hangs up does not stop its events: the pass finishes without it.
        return await asyncio.shield(done)

    async def close(self, timeout_s: float = 30.0) -> None:
        """Finish what is queued, then stop the workers."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), timeout=timeout_s)
        for worker in self.workers:
            worker.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            jobs = [await self.queue.get()]
            size = len(jobs[0].events)
            while size < self.max_events and not self.queue.empty():
                job = self.queue.get_nowait()
                jobs.append(job)
                size += len(job.events)
            self.queued_events -= size
            try:
                await self._run(jobs)
            finally:
                for _ in jobs:
                    self.queue.task_done()

    async def _run(self, jobs: list[_Job]) -> None:
        events = [event for job in jobs for event in job.events]
        paths = [path for job in jobs for path in job.paths]
        requests = [job.trace for job in jobs if job.trace is not None]
        try:
            # Traced (when on) as a child of the first request, linked to every one it carries.
            with start_span(
                "accept pass",
                parent=requests[0] if requests else None,
                links=requests,
                attributes={"touchpoint.requests": len(jobs), "touchpoint.events": len(events)},
            ):
                outcomes = await self.pipeline(events, paths)
        except Exception as exc:  # a bug: every request of the pass hears of it (500)
            logger.exception("accept pipeline failed")
            for job in jobs:
                if not job.done.done():
                    job.done.set_exception(exc)
            return
        start = 0
        for job in jobs:
            end = start + len(job.events)
            if not job.done.done():
                job.done.set_result(outcomes[start:end])
            start = end
