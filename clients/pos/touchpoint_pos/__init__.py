"""Touchpoint POS client: a durable SQLite outbox that sends every till event to ingest once.

from touchpoint_pos import PosClient

with PosClient("till-07.sqlite3", url="http://ingest:8001", api_key=KEY) as pos:
    pos.start()                      # background flusher
    pos.record({"type": "purchase", "channel": "pos", ...})   # on disk when it returns
"""

from touchpoint_pos.answers import EventVerdict, Fate, Verdict, classify, parse_retry_after
from touchpoint_pos.backoff import Backoff, retry_delay
from touchpoint_pos.client import (
    AsyncPosClient,
    FlusherBusy,
    FlushReport,
    Limits,
    PosClient,
    Stalled,
)
from touchpoint_pos.outbox import Counts, EventConflict, Outbox, Rejected, Row

__all__ = [
    "AsyncPosClient",
    "Backoff",
    "Counts",
    "EventConflict",
    "EventVerdict",
    "Fate",
    "FlushReport",
    "FlusherBusy",
    "Limits",
    "Outbox",
    "PosClient",
    "Rejected",
    "Row",
    "Stalled",
    "Verdict",
    "classify",
    "parse_retry_after",
    "retry_delay",
]
