"""Compact dedup keys: an event id as an 8-byte hash, and key → day maps packed for storage.

The fold remembers which events it took (the windowed figures' `applied`, the lifetime
figures' `money_ids`) as 64-bit BLAKE2b hashes of the event ids, each with the UTC day it
happened (pruning drops whole days). Stored, a map is one base64 string: the days and their
counts, then the hashes grouped by day, 8 bytes per event and 8 per day, against ~45 bytes
per event as a JSON object of UUID strings. A false duplicate needs two of one customer's
<= max_applied_ids events to share 64 bits: about 1 in 10^15 per event at the cap.

Stored separately from the state the view decodes (projection/postgres.py, the `dedup`
column), so a read never pays for them.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from array import array
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer


def event_key(event_id: str) -> int:
    """The 64-bit dedup key of an event id."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "little")


def pack_keys(keys: Mapping[int, int]) -> str:
    """key → day as base64: uint32 day count, (day, count) pairs, then the uint64 keys by day
    (an empty map is the empty string)."""
    if not keys:
        return ""
    by_day: dict[int, list[int]] = {}
    for key, day in keys.items():
        by_day.setdefault(day, []).append(key)
    days = sorted(by_day)
    header = array("I", (len(days),))
    hashes = array("Q")
    for day in days:
        members = by_day[day]
        header.extend((day, len(members)))
        hashes.extend(members)
    return base64.b64encode(header.tobytes() + hashes.tobytes()).decode()


def unpack_keys(packed: str) -> dict[int, int]:
    """The key → day map pack_keys wrote."""
    raw = base64.b64decode(packed)
    if not raw:
        return {}
    (group_count,) = array("I", raw[:4])
    groups = array("I", raw[4 : 4 + 8 * group_count])
    hashes = array("Q", raw[4 + 8 * group_count :])
    days: list[int] = []
    for day, count in zip(groups[::2], groups[1::2], strict=True):
        days.extend(itertools.repeat(day, count))
    return dict(zip(hashes, days, strict=True))


def _to_keys(value: Any) -> Any:
    """Packed text, a key → day dict, or a legacy event_id → day dict (ids hashed here)."""
    if isinstance(value, str):
        return unpack_keys(value)
    if isinstance(value, dict) and any(isinstance(key, str) for key in value):
        return {int(key) if key.isdigit() else event_key(key): day for key, day in value.items()}
    return value


DedupKeys = Annotated[
    dict[int, int],
    BeforeValidator(_to_keys),
    PlainSerializer(pack_keys, return_type=str, when_used="json"),
]
"""event_key(event_id) → day number; JSON as one packed string (pack_keys)."""
