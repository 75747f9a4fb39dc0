"""Differentiate: the first segment whose rules all hold."""

from __future__ import annotations

from touchpoint_recommend.domain.config import RecommendConfig, Segment
from touchpoint_recommend.domain.rules import DecisionContext, all_hold


def assign_segment(config: RecommendConfig, context: DecisionContext) -> Segment:
    """The customer's segment; the last segment has no rules, so there is always one."""
    for segment in config.segments:
        if all_hold(segment.when, context):
            return segment
    return config.segments[-1]
