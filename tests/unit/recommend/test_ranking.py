"""Arbitration: score = propensity x context x value x lever, Thompson draws, holdout."""

from __future__ import annotations

import math
import random

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.recommend.factories import customer, default_config, run_decide
from touchpoint_recommend.domain.config import Holdout
from touchpoint_recommend.domain.learning import Evidence, posterior_mean, record_outcome
from touchpoint_recommend.domain.ranking import is_holdout, score_offers

CONFIG = default_config()
LIFESTYLE = customer(interests={"fitness": 2.0})


@given(
    seed=st.integers(0, 2**32),
    fitness=st.floats(0, 20),
    successes=st.integers(0, 50),
    failures=st.integers(0, 50),
)
def test_score_is_the_product_of_its_terms(
    seed: int, fitness: float, successes: int, failures: int
) -> None:
    """Every score equals the product of the terms shown next to it."""
    strategy = CONFIG.strategy_for("active-lifestyle")
    offers = [CONFIG.offer(offer_id) for offer_id in strategy.offers]
    scored = score_offers(
        offers,
        strategy=strategy,
        customer=customer(interests={"fitness": fitness}),
        evidence={"fitness-class": Evidence(successes=successes, failures=failures)},
        learning=CONFIG.learning,
        rng=random.Random(seed),
    )
    for item in scored:
        t = item.terms
        assert math.isclose(
            item.score, t.propensity * t.context_weight * t.business_value * t.lever
        )
        assert 0 <= t.propensity <= 1
        assert 1 <= t.context_weight <= 1 + strategy.max_interest_boost


def test_interest_raises_context_weight_up_to_the_cap() -> None:
    """A fitness fan weighs the fitness class more, but never past 1 + max boost."""
    strategy = CONFIG.strategy_for("active-lifestyle")
    offer = CONFIG.offer("fitness-class")
    weights = [
        score_offers(
            [offer],
            strategy=strategy,
            customer=customer(interests={"fitness": s}),
            evidence={},
            learning=CONFIG.learning,
            rng=None,
        )[0].terms.context_weight
        for s in (0.0, 1.0, 100.0)
    ]
    assert weights == [1.0, 1.5, 2.0]


def test_same_seed_same_decision_and_different_seeds_explore() -> None:
    """Thompson sampling is reproducible under an injected RNG and varies across seeds."""
    first = run_decide(LIFESTYLE, seed=3)
    assert run_decide(LIFESTYLE, seed=3) == first
    tops = {run_decide(LIFESTYLE, seed=seed).offers[0].offer_id for seed in range(40)}
    assert len(tops) > 1


def test_learned_acceptance_wins_the_ranking() -> None:
    """After much evidence that gear-check is accepted and others are not, it comes first."""
    evidence = {
        "active-lifestyle": {
            "gear-check": Evidence(successes=80, failures=20),
            "fitness-class": Evidence(successes=5, failures=95),
            "free-delivery": Evidence(successes=2, failures=98),
            "discount-10": Evidence(successes=2, failures=98),
            "double-points": Evidence(successes=2, failures=98),
        }
    }
    tops = [run_decide(LIFESTYLE, seed=seed, evidence=evidence).offers[0] for seed in range(20)]
    assert all(top.offer_id == "gear-check" for top in tops)
    assert any("of similar customers (100 responses)" in r for r in tops[0].reasons)


def test_holdout_gets_fixed_priority_and_no_sampling() -> None:
    """In the holdout the strategy's priority list decides, whatever was learned."""
    config = default_config(holdout={"share": 1.0, "salt": "t"})
    evidence = {"active-lifestyle": {"gear-check": Evidence(successes=90, failures=10)}}
    decisions = [run_decide(LIFESTYLE, config=config, seed=s, evidence=evidence) for s in range(5)]
    assert all(d.holdout for d in decisions)
    assert [o.offer_id for o in decisions[0].offers] == [
        "discount-10",
        "double-points",
        "gear-check",
    ]
    assert all(d.offers == decisions[0].offers for d in decisions)
    assert decisions[0].offers[0].terms.propensity == decisions[0].offers[0].terms.propensity_mean


@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=20))
def test_holdout_assignment_is_deterministic(keys: list[str]) -> None:
    """The same key always lands in the same group."""
    holdout = Holdout(share=0.3, salt="s")
    assert [is_holdout(k, holdout) for k in keys] == [is_holdout(k, holdout) for k in keys]


def test_holdout_share_is_respected() -> None:
    """Over many customers the holdout is close to its configured share."""
    holdout = Holdout(share=0.1, salt="s")
    share = sum(is_holdout(f"c-{i}", holdout) for i in range(20_000)) / 20_000
    assert 0.09 < share < 0.11
    assert not any(is_holdout(f"c-{i}", Holdout(share=0.0)) for i in range(1000))


def test_posterior_update() -> None:
    """Acceptances raise the mean, rejections and ignores lower it."""
    learning = CONFIG.learning
    prior = posterior_mean(Evidence(), learning)
    assert posterior_mean(record_outcome(Evidence(), "accepted"), learning) > prior
    assert posterior_mean(record_outcome(Evidence(), "ignored"), learning) < prior
    assert record_outcome(Evidence(), "rejected") == Evidence(successes=0, failures=1)
