"""Config validation: a bad config is refused with a message that names the problem."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.unit.recommend.factories import default_config
from touchpoint_recommend.domain.config import ConfigError, parse_config, parse_config_text
from touchpoint_recommend.loader import DEFAULT_CONFIG_PATH


def _default_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    return data


def test_default_config_is_valid_and_covers_every_kind() -> None:
    """The shipped config loads and offers more than discounts (the hotel lesson)."""
    config = default_config()
    kinds = {offer.kind for offer in config.catalogue}
    assert {"discount", "service", "perk", "membership", "win-back", "service-recovery"} <= kinds
    assert config.segments[-1].when == []


def test_unknown_offer_in_strategy_is_named() -> None:
    """A strategy listing an offer that is not in the catalogue names strategy and offer."""
    data = _default_data()
    data["strategies"][0]["offers"] = ["no-such-offer"]
    with pytest.raises(ConfigError, match=r"strategy 'recover-first'.*'no-such-offer'"):
        parse_config(data)


def test_unknown_rule_field_is_named() -> None:
    """A segment rule over a field the view does not have is refused, with the field."""
    data = _default_data()
    data["segments"][0]["when"] = [{"field": "shoe_size", "op": "gt", "value": 40}]
    with pytest.raises(ConfigError, match=r"segments\.0\.when\.0.*unknown rule field 'shoe_size'"):
        parse_config(data)


def test_order_operator_on_text_field_is_refused() -> None:
    """'tier gt A' makes no sense and is refused."""
    data = _default_data()
    data["segments"][0]["when"] = [{"field": "tier", "op": "gt", "value": "A"}]
    with pytest.raises(ConfigError, match="needs a numeric field"):
        parse_config(data)


def test_value_of_wrong_type_is_refused() -> None:
    """A number compared with text is a config mistake, not a silent false."""
    data = _default_data()
    data["segments"][0]["when"] = [{"field": "open_complaints", "op": "gte", "value": "one"}]
    with pytest.raises(ConfigError, match="'one' is not a number"):
        parse_config(data)


def test_validity_dates_in_wrong_order_are_named() -> None:
    """valid_from after valid_until names the offer and both dates."""
    data = _default_data()
    data["catalogue"][0]["valid_from"] = "2027-01-01"
    data["catalogue"][0]["valid_until"] = "2026-01-01"
    with pytest.raises(ConfigError, match=r"'apology-voucher': valid_from 2027-01-01 is after"):
        parse_config(data)


def test_duplicate_offer_id_is_named() -> None:
    """Two catalogue entries with one id are refused."""
    data = _default_data()
    data["catalogue"].append(dict(data["catalogue"][0]))
    with pytest.raises(ConfigError, match="duplicate offer id 'apology-voucher'"):
        parse_config(data)


def test_last_segment_must_catch_everyone() -> None:
    """Without a rule-free last segment some customer would have no strategy."""
    data = _default_data()
    data["segments"][-1]["when"] = [{"field": "member", "op": "eq", "value": True}]
    with pytest.raises(ConfigError, match="last segment"):
        parse_config(data)


def test_segment_without_strategy_is_named() -> None:
    """Every segment needs a strategy."""
    data = _default_data()
    data["strategies"] = [s for s in data["strategies"] if s["segment"] != "family"]
    with pytest.raises(ConfigError, match="without a strategy: family"):
        parse_config(data)


def test_priority_outside_the_strategy_is_named() -> None:
    """The fixed priority may only order offers the strategy can give."""
    data = _default_data()
    data["strategies"][0]["priority"] = ["discount-10"]
    with pytest.raises(ConfigError, match="priority names 'discount-10'"):
        parse_config(data)


def test_membership_first_needs_a_membership_offer() -> None:
    """Policy 'membership first at the till' with no such offer is caught at load."""
    data = _default_data()
    data["catalogue"] = [o for o in data["catalogue"] if o["kind"] != "membership"]
    for strategy in data["strategies"]:
        strategy["priority"] = [
            p for p in strategy["priority"] if p not in ("join-today", "web-account")
        ]
        strategy["levers"] = {}
    with pytest.raises(ConfigError, match="no membership offer for channel 'pos'"):
        parse_config(data)


def test_broken_yaml_is_reported_as_yaml() -> None:
    """A syntax error says it is one."""
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config_text("catalogue: [\n")


def test_fingerprint_changes_with_content() -> None:
    """The version recorded with decisions tells two configs apart."""
    data = _default_data()
    first = parse_config(data).fingerprint()
    data["catalogue"][0]["business_value"] = 3.0
    assert parse_config(data).fingerprint() != first


def test_default_tier_caps_follow_the_brief_plan() -> None:
    """Brief section 5, tiers drive contact policy ("A: visit 3x a month, call 2-3x; B: visit
    2x, call 1-2x; C: visit 1x, call 1x"): the shipped caps give A more contacts a month than
    B and B more than C, in the plan's 3 : 2 : 1 proportion of visits, over 30 days."""
    caps = default_config().contact_policy.tier_caps
    assert caps is not None
    assert caps.period_days == 30
    a, b, c = (caps.cap_for(tier) or 0 for tier in ("A", "B", "C"))
    assert a > b > c >= 1
    assert (a, b) == (3 * c, 2 * c)


@pytest.mark.parametrize(
    ("caps", "message"),
    [
        ({"A": 4, "B": 8, "C": 2}, r"must not grow from A to C.*A=4, B=8, C=2"),
        ({"A": 12, "B": 8}, r"missing \['C'\]"),
        ({"A": 12, "B": 8, "C": 0}, r"tier_caps\.max_contacts\.C"),
        ({"A": 12, "B": 8, "C": 4, "D": 1}, r"tier_caps\.max_contacts\.D"),
    ],
)
def test_tier_caps_are_validated(caps: dict[str, int], message: str) -> None:
    """A tier plan that gives C more than A (against the brief's plan), leaves a tier out,
    caps a tier at 0 or names an unknown tier is refused at load, naming the problem."""
    data = _default_data()
    data["contact_policy"]["tier_caps"]["max_contacts"] = caps
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_without_tier_caps_one_cap_covers_everyone() -> None:
    """tier_caps is optional: a config without it loads, with one cap for all."""
    data = _default_data()
    del data["contact_policy"]["tier_caps"]
    assert parse_config(data).contact_policy.tier_caps is None
