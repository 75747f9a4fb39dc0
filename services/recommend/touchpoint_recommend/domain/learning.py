"""Acceptance learned per segment x offer: Beta posteriors updated by responses."""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict

from touchpoint_recommend.domain.config import Learning

Outcome = Literal["accepted", "rejected", "ignored"]


class Evidence(BaseModel):
    """Responses seen for one segment x offer: acceptances and everything else."""

    model_config = ConfigDict(frozen=True)

    successes: int = 0
    failures: int = 0

    @property
    def responses(self) -> int:
        """How many responses the posterior rests on."""
        return self.successes + self.failures


def record_outcome(evidence: Evidence, outcome: Outcome) -> Evidence:
    """The evidence after one more response (ignored counts as not accepted)."""
    if outcome == "accepted":
        return evidence.model_copy(update={"successes": evidence.successes + 1})
    return evidence.model_copy(update={"failures": evidence.failures + 1})


def posterior(evidence: Evidence, learning: Learning) -> tuple[float, float]:
    """Beta(alpha, beta): the configured prior plus the evidence."""
    return learning.prior_alpha + evidence.successes, learning.prior_beta + evidence.failures


def posterior_mean(evidence: Evidence, learning: Learning) -> float:
    """The expected acceptance rate."""
    alpha, beta = posterior(evidence, learning)
    return alpha / (alpha + beta)


def sample_propensity(evidence: Evidence, learning: Learning, rng: random.Random) -> float:
    """One Thompson draw from the posterior: explores where evidence is thin."""
    alpha, beta = posterior(evidence, learning)
    return rng.betavariate(alpha, beta)
