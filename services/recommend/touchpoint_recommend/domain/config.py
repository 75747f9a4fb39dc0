"""The recommend config (catalogue, segments, strategies, policy), validated as a whole."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Annotated, Any, Literal

import orjson
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from touchpoint_recommend.domain.rules import Rule

OfferKind = Literal["discount", "service", "perk", "membership", "win-back", "service-recovery"]
SALES_KINDS: frozenset[str] = frozenset({"discount", "perk", "membership", "win-back"})
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")]
DECISION_CHANNELS = ("pos", "call_centre", "web")
Channel = Literal["pos", "call_centre", "web", "store", "app", "email"]
Positive = Annotated[float, Field(gt=0)]


class ConfigError(ValueError):
    """A config that cannot be used; the message names the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Offer(_Strict):
    """One entry of the catalogue."""

    id: Identifier
    title: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    kind: OfferKind
    channels: Annotated[list[Channel], Field(min_length=1)]
    eligibility: list[Rule] = []
    valid_from: date | None = None
    valid_until: date | None = None
    business_value: Positive = 1.0
    """Relative worth to the business of an acceptance (margin, retention, goodwill)."""
    interests: list[str] = []
    """Interest categories this offer fits: they raise the context weight and give reasons."""
    budget: Annotated[int, Field(ge=1)] | None = None
    """Most presentations overall (e.g. a limited stock of upgrades)."""
    cap_per_customer: Annotated[int, Field(ge=1)] | None = None
    """Overrides the policy's per-offer cap for this offer."""

    @model_validator(mode="after")
    def _dates(self) -> Offer:
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            raise ValueError(
                f"offer {self.id!r}: valid_from {self.valid_from} is after "
                f"valid_until {self.valid_until}"
            )
        return self

    @property
    def is_sales(self) -> bool:
        """Sales offers give way to service recovery while a complaint is open."""
        return self.kind in SALES_KINDS

    def is_valid_on(self, day: date) -> bool:
        """Whether the offer runs on that day."""
        if self.valid_from and day < self.valid_from:
            return False
        return not (self.valid_until and day > self.valid_until)


class Segment(_Strict):
    """A customer type: the first segment whose rules all hold wins."""

    id: Identifier
    description: str = ""
    when: list[Rule] = []


class Strategy(_Strict):
    """What a segment is offered, the fixed priority, and the business levers."""

    id: Identifier
    segment: Identifier
    offers: list[Identifier] = []
    kinds: list[OfferKind] = []
    """Also eligible: every catalogue offer of these kinds."""
    priority: list[Identifier] = []
    """The fixed-priority order the holdout gets (unlisted offers follow by business value)."""
    levers: dict[str, Positive] = {}
    """Business lever per offer id or per kind (offer id wins); 1.0 when absent."""
    interest_weight: Annotated[float, Field(ge=0, le=10)] = 0.5
    max_interest_boost: Annotated[float, Field(ge=0, le=10)] = 1.0


TierName = Literal["A", "B", "C"]
TIERS: tuple[TierName, ...] = ("A", "B", "C")


class TierCaps(_Strict):
    """Contacts per customer by ABC tier: the tier's service plan bounds how often we ask.

    A contact is a decision that presented at least one offer. The brief (section 5) gives
    a plan per tier (A: visit 3x a month, call 2-3x; B: visit 2x, call 1-2x; C: visit 1x,
    call 1x): A gets more contacts a month than B, and B more than C, so the caps must not
    grow from A to C.
    """

    period_days: Annotated[int, Field(ge=1, le=365)] = 30
    max_contacts: dict[TierName, Annotated[int, Field(ge=1)]]

    @model_validator(mode="after")
    def _a_then_b_then_c(self) -> TierCaps:
        missing = [tier for tier in TIERS if tier not in self.max_contacts]
        if missing:
            raise ValueError(f"max_contacts needs a cap for every tier; missing {missing}")
        caps = [self.max_contacts[tier] for tier in TIERS]
        if caps != sorted(caps, reverse=True):
            raise ValueError(
                "max_contacts must not grow from A to C (A gets at least B's contacts, B at "
                f"least C's); got A={caps[0]}, B={caps[1]}, C={caps[2]}"
            )
        return self

    def cap_for(self, tier: str | None) -> int | None:
        """The tier's cap; None for a customer without a tier (unknown, or not profiled)."""
        return next((cap for name, cap in self.max_contacts.items() if name == tier), None)


class ContactPolicy(_Strict):
    """How often a customer may be asked, and what must come first."""

    period_days: Annotated[int, Field(ge=1, le=365)] = 7
    max_offers_per_customer: Annotated[int, Field(ge=1)] = 6
    """Offers per customer per period_days: the cap for everyone tier_caps does not cover."""
    tier_caps: TierCaps | None = None
    """Contacts per tier (A, B, C) instead of max_offers_per_customer; None: one cap for all."""
    max_per_offer_per_customer: Annotated[int, Field(ge=1)] = 2
    rejection_suppression_days: Annotated[int, Field(ge=0, le=365)] = 14
    acceptance_suppression_days: Annotated[int, Field(ge=0, le=365)] = 30
    complaint_blocks_sales: bool = True
    membership_first_channels: list[Channel] = ["pos"]
    """Channels where a non-member is offered membership before anything else."""


class Learning(_Strict):
    """Beta prior of every segment x offer, and when the learned rate is worth quoting."""

    prior_alpha: Positive = 1.0
    prior_beta: Positive = 1.0
    quote_after_responses: Annotated[int, Field(ge=1)] = 20


class ConsentRules(_Strict):
    """How consent (PIPL) bounds offers: what counts as marketing, and the no-statement default."""

    marketing_without_statement: Literal["allow", "deny"] = "deny"
    """Marketing on a channel where the customer never stated consent: opt-in by default."""
    profiling_without_statement: Literal["allow", "deny"] = "allow"
    """Personalised ranking where the customer never stated profiling consent."""
    exempt_kinds: list[OfferKind] = ["service-recovery"]
    """Offer kinds that are not marketing (complaint handling): always allowed."""


class Holdout(_Strict):
    """The share of customers that always gets the fixed-priority choice."""

    share: Annotated[float, Field(ge=0, le=1)] = 0.1
    salt: str = "touchpoint-holdout-v1"


class RecommendConfig(_Strict):
    """Catalogue, segments (ordered), strategies, contact policy, learning, holdout."""

    catalogue: Annotated[list[Offer], Field(min_length=1)]
    segments: Annotated[list[Segment], Field(min_length=1)]
    strategies: Annotated[list[Strategy], Field(min_length=1)]
    contact_policy: ContactPolicy = ContactPolicy()
    learning: Learning = Learning()
    holdout: Holdout = Holdout()
    consent: ConsentRules = ConsentRules()
    category_labels: dict[str, str] = {}
    """How a clerk says a category aloud, e.g. outdoor -> outdoor gear."""

    @model_validator(mode="after")
    def _consistent(self) -> RecommendConfig:
        offers = _unique("offer", [offer.id for offer in self.catalogue])
        segments = _unique("segment", [segment.id for segment in self.segments])
        _unique("strategy", [strategy.id for strategy in self.strategies])
        if self.segments[-1].when:
            raise ValueError(
                f"the last segment ({self.segments[-1].id!r}) must have no rules, so that "
                "every customer, known or not, falls into some segment"
            )
        kinds = {offer.kind for offer in self.catalogue}
        covered: set[str] = set()
        for strategy in self.strategies:
            where = f"strategy {strategy.id!r}"
            if strategy.segment not in segments:
                raise ValueError(f"{where}: unknown segment {strategy.segment!r}")
            if strategy.segment in covered:
                raise ValueError(f"{where}: segment {strategy.segment!r} has two strategies")
            covered.add(strategy.segment)
            for offer_id in strategy.offers:
                if offer_id not in offers:
                    raise ValueError(f"{where}: unknown offer id {offer_id!r} in offers")
            eligible = set(strategy.offers) | {
                offer.id for offer in self.catalogue if offer.kind in strategy.kinds
            }
            if not eligible:
                raise ValueError(f"{where}: no offer is eligible (list offers or kinds)")
            for offer_id in strategy.priority:
                if offer_id not in eligible:
                    raise ValueError(
                        f"{where}: priority names {offer_id!r}, which is not one of its offers"
                    )
            for key in strategy.levers:
                if key not in offers and key not in kinds:
                    raise ValueError(
                        f"{where}: lever {key!r} is neither an offer id nor an offer kind "
                        "in the catalogue"
                    )
        missing = [segment for segment in segments if segment not in covered]
        if missing:
            raise ValueError(f"segment(s) without a strategy: {', '.join(missing)}")
        for channel in self.contact_policy.membership_first_channels:
            if not any(
                offer.kind == "membership" and channel in offer.channels for offer in self.catalogue
            ):
                raise ValueError(
                    f"contact_policy.membership_first_channels names {channel!r} but the "
                    f"catalogue has no membership offer for channel {channel!r}"
                )
        return self

    def offer(self, offer_id: str) -> Offer:
        """The catalogue entry with that id (KeyError when absent)."""
        for offer in self.catalogue:
            if offer.id == offer_id:
                return offer
        raise KeyError(offer_id)

    def strategy_for(self, segment_id: str) -> Strategy:
        """The strategy mapped to a segment (validation guarantees there is one)."""
        for strategy in self.strategies:
            if strategy.segment == segment_id:
                return strategy
        raise KeyError(segment_id)

    def fingerprint(self) -> str:
        """A short hash of the config: recorded with each decision to know what ran."""
        canonical = orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()[:12]


def _unique(what: str, ids: list[str]) -> set[str]:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"duplicate {what} id {item!r}")
        seen.add(item)
    return seen


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, each with the path to the bad entry."""
    lines = []
    for err in exc.errors():
        location = ".".join(str(part) for part in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"{location}: {message}" if location else message)
    return "; ".join(lines)


def parse_config(data: Any) -> RecommendConfig:
    """Validate a config from plain data (a parsed YAML or JSON document)."""
    if not isinstance(data, dict):
        raise ConfigError("the config must be a mapping with catalogue, segments, strategies")
    try:
        return RecommendConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from exc


def parse_config_text(text: str) -> RecommendConfig:
    """Validate a config from YAML (or JSON, which is YAML) text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}") from exc
    return parse_config(data)
