"""How long to wait before the next attempt: exponential with jitter, never before Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass

from tenacity import RetryCallState
from tenacity.wait import wait_base


@dataclass(frozen=True, slots=True)
class Backoff:
    """The retry timing of a flusher (seconds)."""

    initial_s: float = 0.5
    """The first wait's ceiling; each failed attempt doubles it."""
    max_s: float = 60.0
    """The ceiling of the exponential part (a till offline for hours polls once a minute)."""
    max_retry_after_s: float = 900.0
    """A Retry-After beyond this is read as this (a broken proxy cannot park a till for days)."""


def retry_delay(
    attempt: int, retry_after: float | None, policy: Backoff, rng: random.Random
) -> float:
    """The wait before attempt `attempt + 1` (`attempt` >= 1 failed so far).

    "Equal jitter": between half and all of min(max_s, initial_s * 2**(attempt-1)), so tills
    that lost the network together do not come back together. When the server sent
    Retry-After the wait is at least that, plus up to 10% so they do not all return at once.
    """
    ceiling = min(policy.max_s, policy.initial_s * 2 ** min(attempt - 1, 62))
    delay: float = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after is not None:
        asked = min(max(retry_after, 0.0), policy.max_retry_after_s)
        delay = max(delay, asked + rng.uniform(0, asked * 0.1))
    return delay


class RetryLater(Exception):
    """Some events of the batch are to be sent again (after `retry_after` when the server said)."""

    def __init__(self, why: str, retry_after: float | None = None) -> None:
        super().__init__(why)
        self.retry_after = retry_after


class wait_honouring_retry_after(wait_base):  # noqa: N801 (tenacity's naming of waits)
    """A tenacity wait: `retry_delay` of the attempt, reading Retry-After from RetryLater."""

    def __init__(self, policy: Backoff, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.rng = rng or random.Random()

    def __call__(self, retry_state: RetryCallState) -> float:
        """Seconds to sleep before the next attempt."""
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None and outcome.failed else None
        retry_after = failure.retry_after if isinstance(failure, RetryLater) else None
        return retry_delay(retry_state.attempt_number, retry_after, self.policy, self.rng)
