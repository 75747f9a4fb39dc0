"""The POS client: record into the outbox, flush it to `POST /v1/events/batch` in order.

Sync use (a till loop): `PosClient.record` returns once the event is on disk; `flush` sends
what is pending now, or `start()` runs a background thread that flushes after each record and
every `interval_s`. Async use: `AsyncPosClient` wraps the same calls for an event loop.
One flusher per outbox file at a time (a lock file beside it; the kernel frees it when the
process dies), so two flushers never send the same rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from touchpoint_pos.answers import Fate, Verdict, classify
from touchpoint_pos.backoff import Backoff, RetryLater, wait_honouring_retry_after
from touchpoint_pos.batching import batch_body
from touchpoint_pos.outbox import Outbox, Row

logger = logging.getLogger(__name__)
BATCH_PATH = "/v1/events/batch"
PRUNE_EVERY_S = 3600.0


class Stalled(Exception):
    """Ingest refuses the key or the URL: nothing can be sent until an operator fixes it."""


class FlusherBusy(Exception):
    """Another process (or thread) is flushing this outbox right now."""


@dataclass
class FlushReport:
    """What one flush did."""

    sent: int = 0
    duplicates: int = 0
    """Of `sent`: events ingest already had (a resend after a crash or a lost answer)."""
    rejected: int = 0
    requests: int = 0
    failed_attempts: int = 0
    pending: int = 0
    """Events still pending when the flush ended."""
    stalled: str | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """Batch size and request bounds (ingest takes up to 1,000 events and 1 MiB a request)."""

    max_events: int = 100
    max_bytes: int = 512 * 1024
    timeout_s: float = 10.0


class PosClient:
    """A till's client: `record` durably, `flush` (or `start`) to send, exactly once."""

    def __init__(
        self,
        outbox: Outbox | str | Path,
        *,
        url: str,
        api_key: str,
        limits: Limits | None = None,
        backoff: Backoff | None = None,
        transport: httpx.BaseTransport | None = None,
        keep_sent: timedelta = timedelta(days=7),
    ) -> None:
        self.outbox = outbox if isinstance(outbox, Outbox) else Outbox(outbox)
        self.keep_sent = keep_sent
        self._pruned_at = -PRUNE_EVERY_S
        self.limits = limits or Limits()
        self.backoff = backoff or Backoff()
        self._http = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=self.limits.timeout_s,
            transport=transport,
        )
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_report: FlushReport | None = None

    def __enter__(self) -> PosClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def record(self, event: Mapping[str, Any]) -> str:
        """Write the event to the outbox (on disk when this returns); its event_id."""
        event_id = self.outbox.record(event)
        self._wake.set()
        return event_id

    def flush(self, *, max_seconds: float | None = None) -> FlushReport:
        """Send pending events, oldest first, until none is left, ingest stalls us, or
        `max_seconds` would pass (then the rest stays pending for the next flush)."""
        with _flush_lock(self.outbox.path):
            report = self._flush_locked(max_seconds)
        self.last_report = report
        return report

    def _flush_locked(self, max_seconds: float | None) -> FlushReport:
        report = FlushReport()
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        max_events = self.limits.max_events

        def give_up(state: RetryCallState) -> bool:
            if self._stopping.is_set():
                return True
            return deadline is not None and time.monotonic() + state.upcoming_sleep > deadline

        retrying = Retrying(
            retry=retry_if_exception_type(RetryLater),
            wait=wait_honouring_retry_after(self.backoff),
            stop=give_up,
            sleep=self._sleep,
            reraise=True,
        )
        while not self._stopping.is_set():
            try:
                outcome = retrying(self._step, report, max_events)
            except RetryLater:
                break
            except Stalled as stalled:
                report.stalled = str(stalled)
                break
            if outcome is None:
                break
            max_events = outcome
        report.pending = self.outbox.counts().pending
        self._prune()
        return report

    def _prune(self) -> None:
        """Forget events sent more than `keep_sent` ago (at most once an hour)."""
        now = time.monotonic()
        if now - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = now
        self.outbox.prune_sent(before=datetime.now(UTC) - self.keep_sent)

    def _step(self, report: FlushReport, max_events: int) -> int | None:
        """Send the next batch and settle it; the next batch size, or None when nothing is
        pending. Raises RetryLater when some of it must be sent again, Stalled when refused."""
        rows = self.outbox.next_batch(max_events=max_events, max_bytes=self.limits.max_bytes)
        if not rows:
            return None
        verdict = self._send(rows)
        report.requests += 1
        self.outbox.settle(rows, verdict)
        _tally(report, verdict)
        if verdict.stalled is not None:
            raise Stalled(verdict.stalled)
        if verdict.split:
            return max(1, len(rows) // 2)
        if verdict.retries() and not verdict.resend_now:
            report.failed_attempts += 1
            report.last_error = verdict.summary
            raise RetryLater(verdict.summary, verdict.retry_after)
        return min(self.limits.max_events, max_events * 2)

    def _send(self, rows: list[Row]) -> Verdict:
        """One POST of these rows' bodies; the verdict on each."""
        event_ids = [row.event_id for row in rows]
        try:
            response = self._http.post(
                BATCH_PATH,
                content=batch_body([row.body for row in rows]),
                headers={"Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            return classify(event_ids, status=None, error=f"{type(exc).__name__}: {exc}")
        return classify(
            event_ids, status=response.status_code, headers=response.headers, body=response.content
        )

    def _sleep(self, seconds: float) -> None:
        """Back off, but wake at once when the client is closing."""
        self._stopping.wait(seconds)

    def start(self, *, interval_s: float = 5.0) -> None:
        """Flush in a background thread: after each record and at least every `interval_s`."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, args=(interval_s,), name="touchpoint-pos-flusher", daemon=True
        )
        self._thread.start()

    def _run(self, interval_s: float) -> None:
        """The background flusher: flush, then sleep until a record or `interval_s`; a stalled
        flush or a local failure (disk full, file locked) waits `max_s` and tries again."""
        pause = max(interval_s, self.backoff.max_s)
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                report = self.flush()
            except FlusherBusy:
                pass
            except Exception:  # the thread must outlive a bad moment; the events are on disk
                logger.exception("POS outbox flush failed; trying again in %.0f s", pause)
                self._stopping.wait(pause)
            else:
                if report.stalled is not None:  # wait for the operator, not in a tight loop
                    logger.warning("POS outbox flush stalled: %s", report.stalled)
                    self._stopping.wait(pause)
            self._wake.wait(interval_s)

    def stop(self, *, timeout_s: float = 10.0) -> None:
        """Stop the background flusher (pending events stay in the outbox for next time)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():  # stuck in a request: it ends at the HTTP timeout
                return
            self._thread = None
        self._stopping.clear()  # a later flush() or start() works again

    def close(self) -> None:
        """Stop flushing and close the HTTP client and the outbox."""
        self.stop()
        self._http.close()
        self.outbox.close()


class AsyncPosClient:
    """The same client for an asyncio till loop: the outbox and flushes run in worker threads,
    so the event loop never waits on the disk or the network."""

    def __init__(self, client: PosClient) -> None:
        self.client = client

    async def record(self, event: Mapping[str, Any]) -> str:
        """Write the event durably; its event_id."""
        return await asyncio.to_thread(self.client.record, event)

    async def flush(self, *, max_seconds: float | None = None) -> FlushReport:
        """Send what is pending (see PosClient.flush)."""
        return await asyncio.to_thread(self.client.flush, max_seconds=max_seconds)

    def start(self, *, interval_s: float = 5.0) -> None:
        """Flush in the background (a thread, see PosClient.start)."""
        self.client.start(interval_s=interval_s)

    async def stop(self) -> None:
        """Stop the background flusher."""
        await asyncio.to_thread(self.client.stop)

    async def __aenter__(self) -> AsyncPosClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await asyncio.to_thread(self.client.close)


def _tally(report: FlushReport, verdict: Verdict) -> None:
    for decided in verdict.events.values():
        if decided.fate is Fate.SENT:
            report.sent += 1
            report.duplicates += decided.answer == "duplicate"
        elif decided.fate is Fate.REJECTED:
            report.rejected += 1


_thread_locks: dict[Path, threading.Lock] = {}


@contextlib.contextmanager
def _flush_lock(outbox_path: Path) -> Iterator[None]:
    """Hold the outbox's flush lock (threads of this process, then other processes) or raise
    FlusherBusy. The file lock is an OS lock: a killed flusher's lock goes with it."""
    lock = _thread_locks.setdefault(outbox_path.resolve(), threading.Lock())
    if not lock.acquire(blocking=False):
        raise FlusherBusy(f"{outbox_path} is being flushed by another thread")
    try:
        with open(f"{outbox_path}.lock", "a+") as handle:
            _lock_file(handle, outbox_path)
            yield
    finally:
        lock.release()


def _lock_file(handle: TextIO, outbox_path: Path) -> None:
    """An exclusive, non-blocking lock on the open file (POSIX flock; no-op elsewhere)."""
    if os.name != "posix":
        return
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        raise FlusherBusy(f"{outbox_path} is being flushed by another process") from exc
