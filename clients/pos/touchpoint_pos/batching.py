"""How many of the oldest pending events go into the next request (pure)."""

from __future__ import annotations

from collections.abc import Sequence

ENVELOPE_BYTES = len(b'{"events":[]}')
"""The batch body around the events; each event after the first adds a comma."""


def batch_length(sizes: Sequence[int], *, max_events: int, max_bytes: int) -> int:
    """How many leading events (of these body sizes, oldest first) fit in one request.

    Never zero when there is an event: one over the byte limit goes alone (ingest then
    refuses it with 413 and it is rejected, instead of blocking the events behind it).
    """
    total = ENVELOPE_BYTES
    count = 0
    for size in sizes[:max_events]:
        extra = size + (1 if count else 0)
        if count and total + extra > max_bytes:
            break
        total += extra
        count += 1
    return count


def batch_body(bodies: Sequence[bytes]) -> bytes:
    """The request body for these events, each exactly as recorded."""
    return b'{"events":[' + b",".join(bodies) + b"]}"
