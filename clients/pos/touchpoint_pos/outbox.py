"""The durable local outbox: every event the till records, in one SQLite file, until ingest has it.

`record` commits the event (WAL, `synchronous=FULL`: fsync'd at commit) before it returns, so a
crash or power cut after `record` never loses the sale. Rows stay `pending` until a 2xx answer
names them (`sent`, kept for `touchpoint-pos show` until pruned), or move to `rejected` with the
server's reason when ingest refuses them for good. Nothing is ever deleted unsent.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from touchpoint_pos.answers import Fate, Verdict
from touchpoint_pos.batching import batch_length

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    till_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body BLOB NOT NULL,
    recorded_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at TEXT,
    answer TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE sent_at IS NULL;
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    till_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body BLOB NOT NULL,
    recorded_at TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    rejected_at TEXT NOT NULL,
    answer TEXT NOT NULL,
    reason TEXT
);
"""


class EventConflict(ValueError):
    """The event_id was recorded before with a different body (a reused id, not a retry)."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """An event as recorded (`body` is the exact JSON that is sent) and how often it was tried."""

    seq: int
    event_id: str
    till_id: str
    event_type: str
    body: bytes
    recorded_at: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Row(Recorded):
    """An event in the outbox: pending (`sent_at` None, the last error if tried) or sent."""

    last_error: str | None = None
    sent_at: str | None = None
    answer: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected(Recorded):
    """An event ingest refused for good, with the answer and the server's reason."""

    rejected_at: str = ""
    answer: str = ""
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Counts:
    """How many events are pending, sent and rejected; the oldest pending one's record time."""

    pending: int
    sent: int
    rejected: int
    oldest_pending_at: str | None
    last_error: str | None


def prepare_event(event: Mapping[str, Any], now: datetime) -> tuple[str, str, bytes]:
    """(event_id, type, JSON body): a uuid4 event_id and `occurred_at` (now) filled in when absent.

    The body is fixed here, at record time, so every retry sends the same bytes (ingest tells a
    retry from a reused id by its content). Decimals, datetimes and UUIDs are written as strings.
    """
    if not isinstance(event, Mapping):
        raise ValueError("an event is a JSON object")
    prepared = dict(event)
    given = prepared.get("event_id")
    event_id = str(uuid.UUID(str(given))) if given is not None else str(uuid.uuid4())
    prepared["event_id"] = event_id
    if prepared.get("occurred_at") is None:
        prepared["occurred_at"] = now.isoformat()
    kind = prepared.get("type")
    if not isinstance(kind, str) or not kind:
        raise ValueError("an event needs its type (e.g. 'purchase')")
    body = json.dumps(prepared, ensure_ascii=False, separators=(",", ":"), default=_to_json)
    return event_id, kind, body.encode()


def _to_json(value: object) -> str:
    """JSON for the values a till naturally holds: exact decimals, aware times, ids."""
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class Outbox:
    """The SQLite outbox at `path` (created on first use). Safe to share between threads."""

    def __init__(self, path: str | Path, *, till_id: str = "till") -> None:
        self.path = Path(path)
        self.till_id = till_id
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # fsync the WAL at every commit
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the file (everything recorded is already on disk)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE), committed and fsync'd, or rolled back."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def record(self, event: Mapping[str, Any], *, now: datetime | None = None) -> str:
        """Write the event durably and return its event_id (recording the same event twice is
        harmless; the same event_id with another body raises EventConflict)."""
        at = now or datetime.now(UTC)
        event_id, kind, body = prepare_event(event, at)
        with self._transaction() as db:
            known = db.execute("SELECT body FROM outbox WHERE event_id = ?", (event_id,)).fetchone()
            known = (
                known
                or db.execute(
                    "SELECT body FROM rejected WHERE event_id = ?", (event_id,)
                ).fetchone()
            )
            if known is not None:
                if bytes(known[0]) != body:
                    raise EventConflict(f"event_id {event_id} was recorded with another body")
                return event_id
            db.execute(
                "INSERT INTO outbox (event_id, till_id, event_type, body, recorded_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (event_id, self.till_id, kind, body, at.isoformat()),
            )
        return event_id

    def next_batch(self, *, max_events: int, max_bytes: int) -> list[Row]:
        """The oldest pending events that fit in one request (order of recording)."""
        rows = self._rows(
            "SELECT * FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?", (max_events,)
        )
        length = batch_length(
            [len(r.body) for r in rows], max_events=max_events, max_bytes=max_bytes
        )
        return rows[:length]

    def settle(self, rows: Sequence[Row], verdict: Verdict, *, now: datetime | None = None) -> None:
        """Apply an answer in one transaction: sent rows marked, refused rows moved to
        `rejected` with the reason, the others' attempt counted with the error."""
        at = (now or datetime.now(UTC)).isoformat()
        with self._transaction() as db:
            for row in rows:
                decided = verdict.events.get(row.event_id)
                if decided is None or decided.fate is Fate.RETRY:
                    why = (decided.reason or decided.answer) if decided else verdict.summary
                    db.execute(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
                        (why, row.seq),
                    )
                elif decided.fate is Fate.SENT:
                    db.execute(
                        "UPDATE outbox SET attempts = attempts + 1, sent_at = ?, answer = ?, "
                        "last_error = NULL WHERE seq = ? AND sent_at IS NULL",
                        (at, decided.answer, row.seq),
                    )
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO rejected (seq, event_id, till_id, event_type, "
                        "body, recorded_at, attempts, rejected_at, answer, reason) "
                        "SELECT seq, event_id, till_id, event_type, body, recorded_at, "
                        "attempts + 1, ?, ?, ? FROM outbox WHERE seq = ?",
                        (at, decided.answer, decided.reason, row.seq),
                    )
                    db.execute("DELETE FROM outbox WHERE seq = ?", (row.seq,))

    def counts(self) -> Counts:
        """Pending, sent and rejected counts, the oldest pending event and the last error."""
        with self._lock:
            pending, sent, oldest = self._db.execute(
                "SELECT coalesce(sum(sent_at IS NULL), 0), coalesce(sum(sent_at IS NOT NULL), 0), "
                "min(CASE WHEN sent_at IS NULL THEN recorded_at END) FROM outbox"
            ).fetchone()
            (rejected,) = self._db.execute("SELECT count(*) FROM rejected").fetchone()
            error = self._db.execute(
                "SELECT last_error FROM outbox WHERE sent_at IS NULL AND last_error IS NOT NULL "
                "ORDER BY seq LIMIT 1"
            ).fetchone()
        return Counts(pending, sent, rejected, oldest, error[0] if error else None)

    def pending(self, *, limit: int = 100) -> list[Row]:
        """The oldest pending events."""
        return self._rows(
            "SELECT * FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?", (limit,)
        )

    def sent(self, *, limit: int = 100) -> list[Row]:
        """The most recently sent events, newest first."""
        return self._rows(
            "SELECT * FROM outbox WHERE sent_at IS NOT NULL ORDER BY seq DESC LIMIT ?", (limit,)
        )

    def rejected(self, *, limit: int = 100) -> list[Rejected]:
        """The refused events, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM rejected ORDER BY seq LIMIT ?", (limit,))
            return [Rejected(*r) for r in rows]

    def requeue(self, event_id: str) -> bool:
        """Move a rejected event back to pending (same id, same body, same place in the order),
        e.g. after the key was allowed its store; False when no such rejected event."""
        with self._transaction() as db:
            moved = db.execute(
                "INSERT INTO outbox (seq, event_id, till_id, event_type, body, recorded_at, "
                "attempts) SELECT seq, event_id, till_id, event_type, body, recorded_at, attempts "
                "FROM rejected WHERE event_id = ?",
                (event_id,),
            ).rowcount
            db.execute("DELETE FROM rejected WHERE event_id = ?", (event_id,))
        return moved == 1

    def prune_sent(self, *, before: datetime) -> int:
        """Forget sent events sent before `before`; returns how many (pending ones never go)."""
        with self._transaction() as db:
            return db.execute(
                "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?",
                (before.isoformat(),),
            ).rowcount

    def _rows(self, query: str, params: tuple[Any, ...]) -> list[Row]:
        with self._lock:
            return [
                Row(
                    seq=r[0],
                    event_id=r[1],
                    till_id=r[2],
                    event_type=r[3],
                    body=bytes(r[4]),
                    recorded_at=r[5],
                    attempts=r[6],
                    last_error=r[7],
                    sent_at=r[8],
                    answer=r[9],
                )
                for r in self._db.execute(query, params)
            ]
