"""Recommend evaluates the profile view with the same fold rules as the profile, from one source."""

from __future__ import annotations

from decimal import Decimal

import pytest

from touchpoint_profile.read import FoldRulesSettings
from touchpoint_profile.settings import ProfileSettings
from touchpoint_recommend.settings import RecommendSettings


def test_both_services_read_the_fold_rules_from_the_same_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TOUCHPOINT_PROFILE_RULES__* set once gives profile and recommend the same FoldRules."""
    monkeypatch.setenv("TOUCHPOINT_PROFILE_RULES__WINDOW_DAYS", "30")
    monkeypatch.setenv("TOUCHPOINT_PROFILE_RULES__MONETARY_CUTS", "[100,200,300,400]")
    rules = FoldRulesSettings().profile_rules
    assert rules.window_days == 30
    assert rules.monetary_cuts == [Decimal(100), Decimal(200), Decimal(300), Decimal(400)]
    assert ProfileSettings().profile_rules == rules
    assert RecommendSettings().profile_rules == rules


def test_fold_rules_are_a_settings_class_both_services_inherit() -> None:
    """The field is declared once (FoldRulesSettings), not copied into each service."""
    assert issubclass(ProfileSettings, FoldRulesSettings)
    assert issubclass(RecommendSettings, FoldRulesSettings)
