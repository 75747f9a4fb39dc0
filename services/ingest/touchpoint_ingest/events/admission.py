"""Load shedding at the door: at most so many requests in flight, the rest answered 503 at once.

A request holds its slot from before its body is read until it is answered, so the memory of
bodies, parsed JSON and validated events is bounded by the slots times the body limit.
Refusing at once (instead of queueing) keeps latency bounded and tells clients to back off.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Admission:
    """A counter of requests in flight with a ceiling (single event loop: no lock needed)."""

    limit: int
    in_flight: int = 0

    def try_enter(self) -> bool:
        """Take a slot if one is free; False when the service is at its limit."""
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        """Give the slot back."""
        self.in_flight -= 1
