"""The bounded per-customer state the fold keeps: its size never grows with history."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, model_validator

from touchpoint_profile.fold.dedup import DedupKeys, pack_keys, unpack_keys
from touchpoint_profile.fold.rules import LEGACY_CURRENCY

# Interest sums are stored as log Σ w·exp(λ·(t_event − INTEREST_EPOCH)); a fixed epoch makes
# the stored value independent of when (and in which order) the events were folded.
INTEREST_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
EPOCH_DAY = datetime(1970, 1, 1, tzinfo=UTC)


def day_number(moment: datetime) -> int:
    """Whole UTC days since 1970-01-01: the key of a window bucket."""
    return (moment - EPOCH_DAY).days


class DayBucket(BaseModel):
    """What happened on one UTC day inside the window."""

    purchases: int = 0
    channels: dict[str, int] = Field(default_factory=dict)
    stores: dict[str, int] = Field(default_factory=dict)
    categories: dict[str, int] = Field(default_factory=dict)
    """Purchases that included each category."""
    spend: dict[str, Decimal] = Field(default_factory=dict)
    """Net spend (purchases less returns) per currency: never summed across currencies."""
    profit: dict[str, Decimal] = Field(default_factory=dict)
    """Profit (amount less the items' cost) per currency."""
    care: dict[str, int] = Field(default_factory=dict)
    """Care contacts by kind ("call": a call that was not dropped, "visit": a store visit),
    what the tier service plans count (fold/care.py get_care_kind)."""

    @model_validator(mode="before")
    @classmethod
    def _legacy_net_spend(cls, data: Any) -> Any:
        """A bucket stored before money was kept per currency: its net_spend is counted in the
        reporting currency (LEGACY_CURRENCY); a rebuild replaces it."""
        if isinstance(data, dict) and "net_spend" in data:
            data = dict(data)
            legacy = Decimal(str(data.pop("net_spend")))
            if legacy and not data.get("spend"):
                data["spend"] = {LEGACY_CURRENCY: legacy}
        return data


class InterestSum(BaseModel):
    """Positive and negative decayed sums of one category, as logs (None = nothing yet)."""

    log_positive: float | None = None
    log_negative: float | None = None


class TimelineEntry(BaseModel):
    """One line of the capped timeline."""

    event_id: str
    occurred_at: datetime
    type: str
    channel: str
    store_id: str | None = None
    line: str


class SealedText(BaseModel):
    """Free text as it came off the wire, still sealed, and whose key sealed it (the event's
    customer: after a merge the survivor's state holds texts sealed with a loser's key)."""

    sealed: str
    customer_id: str


class ComplaintRecord(BaseModel):
    """A complaint as far as it is known; its events may arrive in any order.

    Each step is stamped (`<step>_at`, `<step>_by` = occurred_at and event id): the first
    opening wins, every later step is last-writer-wins, so the record ends the same whatever
    the order or the repeats.
    """

    complaint_id: str
    category: str | None = None
    severity: str | None = None
    key_points: SealedText | None = None
    opened_at: datetime | None = None
    opened_by: str | None = None
    owner: str | None = None
    assigned_at: datetime | None = None
    assigned_by: str | None = None
    escalated_to: str | None = None
    escalation_reason: SealedText | None = None
    escalated_at: datetime | None = None
    escalated_by: str | None = None
    remedy: SealedText | None = None
    remedied_at: datetime | None = None
    remedied_by: str | None = None
    resolution: SealedText | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    satisfaction: int | None = None
    follow_up_comment: SealedText | None = None
    followed_up_at: datetime | None = None
    followed_up_by: str | None = None


class ComplaintClock(BaseModel):
    """An older resolved complaint reduced to what the view and the managers' figures show
    (category, severity, time to resolve, satisfaction): its texts, owner and stamps are gone
    (FoldRules.closed_complaint_texts_kept)."""

    category: str | None = None
    severity: str | None = None
    opened_at: datetime | None = None
    resolved_at: datetime
    satisfaction: int | None = None


class CommitmentRecord(BaseModel):
    """What an agent promised on a call or a visit, and whether it was kept (any order)."""

    commitment_id: str
    text: SealedText | None = None
    due_at: datetime | None = None
    agent_id: str | None = None
    store_id: str | None = None
    channel: str | None = None
    made_at: datetime | None = None
    made_by: str | None = None
    fulfilled_note: SealedText | None = None
    fulfilled_at: datetime | None = None
    fulfilled_by: str | None = None


class NoteRecord(BaseModel):
    """A note an agent left on a call or a visit (sealed), newest kept."""

    event_id: str
    occurred_at: datetime
    agent_id: str | None = None
    store_id: str | None = None
    channel: str
    note: SealedText


class OfferRecord(BaseModel):
    """One offer of one decision: when presented, and the customer's answer if any."""

    offer_id: str
    decision_id: str
    kind: str | None = None
    presented_at: datetime | None = None
    presented_by: str | None = None
    outcome: str | None = None
    responded_at: datetime | None = None
    responded_by: str | None = None

    @property
    def last_at(self) -> datetime:
        """The latest thing known about this offer."""
        moments = [m for m in (self.presented_at, self.responded_at) if m is not None]
        return max(moments)


class Stamped(BaseModel):
    """A last-writer-wins value: the newest (occurred_at, event_id) wins, whatever the order."""

    at: datetime
    event_id: str
    value: str | None = None

    def newer_than(self, other: Stamped | None) -> bool:
        """True when self should replace other."""
        return other is None or (self.at, self.event_id) > (other.at, other.event_id)


class SurveyRecord(BaseModel):
    """One survey answer (the comment is sealed on the wire and never kept here)."""

    at: datetime
    event_id: str
    csat: int | None = None
    nps: int | None = None


class PointsState(BaseModel):
    """Loyalty points: the latest stated balance plus the movements after it.

    A balance statement (occurred_at, event_id) replaces every movement before it; movements
    after it add up, whatever the arrival order. Beyond max_points_deltas the oldest movements
    are summed into `carried` (up to `carried_until`).
    """

    stated: int | None = None
    stated_at: datetime | None = None
    stated_by: str | None = None
    deltas: dict[str, tuple[datetime, int]] = Field(default_factory=dict)
    """event_id → (occurred_at, points) of movements after the stated balance."""
    carried: int = 0
    carried_until: datetime | None = None

    @property
    def balance(self) -> int:
        """The stated balance (0 if none) plus the carried and kept movements."""
        return (self.stated or 0) + self.carried + sum(delta for _, delta in self.deltas.values())


class ValueState(BaseModel):
    """Lifetime value figures, surveys and points of one customer (issue 13), bounded.

    Money is kept per currency as it was paid; the reporting currency is applied when the view
    or the customer_value row is evaluated, so a changed rate table needs no replay.
    """

    first_purchase_at: datetime | None = None
    purchases: int = 0
    """Purchases over the customer's whole folded history (returns do not subtract)."""
    spend: dict[str, Decimal] = Field(default_factory=dict)
    """Lifetime net spend per currency."""
    profit: dict[str, Decimal] = Field(default_factory=dict)
    """Lifetime profit per currency."""
    money_ids: DedupKeys = Field(default_factory=dict)
    """event_key(event_id) → day number of the purchases and returns in the lifetime figures
    (dedup, fold/dedup.py), the newest max_money_ids."""
    purchase_moments: dict[str, datetime] = Field(default_factory=dict)
    """event_id → occurred_at of the newest max_purchase_moments purchases (won-back trigger)."""
    surveys: dict[str, SurveyRecord] = Field(default_factory=dict)
    """event_id → the newest max_surveys survey answers."""
    points: PointsState | None = None


def consent_key(purpose: str, channel: str) -> str:
    """The key of one purpose x channel in CustomerState.consents."""
    return f"{purpose}/{channel}"


class CustomerState(BaseModel):
    """Everything the view needs about one customer, bounded by FoldRules."""

    customer_id: str
    erased_at: datetime | None = None
    merged_into: str | None = None
    merged_from: list[str] = Field(default_factory=list)
    first_seen_at: datetime | None = None
    last_seen_at: datetime | None = None
    last_purchase_at: datetime | None = None
    membership: Stamped | None = None
    member_tier: Stamped | None = None
    days: dict[int, DayBucket] = Field(default_factory=dict)
    interests: dict[str, InterestSum] = Field(default_factory=dict)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    complaints: dict[str, ComplaintRecord] = Field(default_factory=dict)
    """Open complaints (at most max_complaints) and the newest closed_complaint_texts_kept
    resolved ones, whole."""
    complaint_clocks: dict[str, ComplaintClock] = Field(default_factory=dict)
    """complaint_id → an older resolved complaint without its texts; with the resolved ones in
    `complaints`, at most max_closed_complaints."""
    commitments: dict[str, CommitmentRecord] = Field(default_factory=dict)
    notes: list[NoteRecord] = Field(default_factory=list)
    """Newest first, at most FoldRules.max_notes."""
    offers: dict[str, OfferRecord] = Field(default_factory=dict)
    consents: dict[str, Stamped] = Field(default_factory=dict)
    """consent_key(purpose, channel) → the latest statement (value "granted"/"withdrawn");
    bounded by the few purposes x channels the contract allows."""
    applied: DedupKeys = Field(default_factory=dict)
    """event_key(event_id) → day number of the events that fed windowed figures (the dedup
    set, fold/dedup.py)."""
    value: ValueState = Field(default_factory=ValueState)
    """Lifetime figures, surveys and points (fold/value.py); replaced, never changed in place."""

    @property
    def is_erased(self) -> bool:
        """An erased customer is a tombstone: nothing folds into it any more."""
        return self.erased_at is not None


def new_state(customer_id: str) -> CustomerState:
    """The state of a customer never seen before."""
    return CustomerState(customer_id=customer_id)


def tombstone(customer_id: str, erased_at: datetime) -> CustomerState:
    """What is left of an erased customer: the id and when it was erased, nothing else."""
    return CustomerState(customer_id=customer_id, erased_at=erased_at)


def dump_state_parts(state: CustomerState) -> tuple[str, str]:
    """(the state as JSON without its dedup sets, the dedup sets as JSON); None values and
    defaults (zeros, empty containers) are left out: loading puts them back."""
    body = state.model_dump_json(
        exclude={"applied": True, "value": {"money_ids"}}, exclude_none=True, exclude_defaults=True
    )
    dedup = {"applied": pack_keys(state.applied), "money_ids": pack_keys(state.value.money_ids)}
    return body, json.dumps(dedup)


def load_state_parts(body: str, dedup: str | None) -> CustomerState:
    """The whole state from dump_state_parts' two documents (a row written before the split
    keeps its dedup sets in the body: dedup is None)."""
    state = CustomerState.model_validate_json(body)
    if dedup is not None:
        sets = json.loads(dedup)
        state.applied = unpack_keys(sets["applied"])
        money_ids = unpack_keys(sets["money_ids"])
        state.value = state.value.model_copy(update={"money_ids": money_ids})
    return state
