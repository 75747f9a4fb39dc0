"""Customer care in the fold: complaints through their life, commitments, and agents' notes.

Every step is a stamped value (see stamps.py): the first opening of a complaint and the first
making of a commitment win, every later step is last-writer-wins by (occurred_at, event_id).
So a follow-up or a resolution folded before the opening, a step folded twice, or a batch cut
anywhere all end in the same record. Free text stays sealed (SealedText, with the customer
whose key sealed it); only the private endpoint opens it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from touchpoint_common.events import models as wire
from touchpoint_common.events.payloads import (
    CallOutcome,
    ComplaintAssignedPayload,
    ComplaintResolvedPayload,
    EventType,
)
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.stamps import earlier, later, take_stamp
from touchpoint_profile.fold.state import (
    EPOCH_DAY,
    CommitmentRecord,
    ComplaintClock,
    ComplaintRecord,
    CustomerState,
    DayBucket,
    NoteRecord,
    SealedText,
)

COMPLAINT_STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("assigned", ("owner",)),
    ("escalated", ("escalated_to", "escalation_reason")),
    ("remedied", ("remedy",)),
    ("resolved", ("resolution",)),
    ("followed_up", ("satisfaction", "follow_up_comment")),
)
"""The last-writer-wins steps of a complaint after its opening, and the values each stamps."""
EPOCH_ORDINAL = EPOCH_DAY.date().toordinal()
STATUS_OF_STEP = {"assigned": "assigned", "escalated": "escalated", "remedied": "remedy_offered"}
CareKind = Literal["call", "visit"]
CLOCK_FIELDS = set(ComplaintClock.model_fields)
"""What a resolved complaint keeps once reduced to its clock (the same names as the record's)."""
CARE_CONTACTS_KEPT = 10
"""Newest contact days of each kind written beside the value figures: a care plan may ask
for at most this many contacts of one kind per period (care/plans.py)."""


def add_complaint(state: CustomerState, seen: ComplaintRecord) -> None:
    """Merge what is known of a complaint: the first opening and the last of each step win
    (in place). A step of a complaint already reduced to its clock is dropped: at least
    closed_complaint_texts_kept newer resolved complaints exist."""
    if seen.complaint_id in state.complaint_clocks:
        return
    records = state.complaints
    stored = records.get(seen.complaint_id)
    into = stored.model_copy() if stored else ComplaintRecord(complaint_id=seen.complaint_id)
    take_stamp(into, seen, "opened", ("category", "severity", "key_points"), earlier)
    for step, values in COMPLAINT_STEPS:
        take_stamp(into, seen, step, values, later)
    records[seen.complaint_id] = into


def add_complaint_clock(state: CustomerState, complaint_id: str, clock: ComplaintClock) -> None:
    """Keep a reduced resolved complaint unless the state knows it whole (in place)."""
    if complaint_id not in state.complaints:
        state.complaint_clocks.setdefault(complaint_id, clock)


def get_clock(record: ComplaintRecord) -> ComplaintClock:
    """A resolved complaint reduced to what the view and the figures show."""
    if record.resolved_at is None:
        raise ValueError(f"complaint {record.complaint_id} is not resolved")
    return ComplaintClock.model_validate(record.model_dump(include=CLOCK_FIELDS))


def add_commitment(records: dict[str, CommitmentRecord], seen: CommitmentRecord) -> None:
    """Merge what is known of a commitment: the first making and the last fulfilment win."""
    stored = records.get(seen.commitment_id)
    into = stored.model_copy() if stored else CommitmentRecord(commitment_id=seen.commitment_id)
    made = ("text", "due_at", "agent_id", "store_id", "channel")
    take_stamp(into, seen, "made", made, earlier)
    take_stamp(into, seen, "fulfilled", ("fulfilled_note",), later)
    records[seen.commitment_id] = into


def add_notes(state: CustomerState, notes: list[NoteRecord], rules: FoldRules) -> None:
    """Add notes not kept yet; keep the newest max_notes, newest first (in place)."""
    known = {note.event_id for note in state.notes}
    fresh = [note for note in notes if note.event_id not in known]
    if not fresh:
        return
    state.notes = sorted(
        [*state.notes, *fresh], key=lambda n: (n.occurred_at, n.event_id), reverse=True
    )[: rules.max_notes]


def complaint_status(record: ComplaintRecord) -> str:
    """open, assigned, escalated or remedy_offered: the latest step taken (resolved: closed)."""
    if record.resolved_at is not None:
        return "resolved"
    steps = [
        (getattr(record, f"{step}_at"), getattr(record, f"{step}_by") or "", status)
        for step, status in STATUS_OF_STEP.items()
        if getattr(record, f"{step}_at") is not None
    ]
    return str(max(steps)[2]) if steps else "open"


def _sealed(token: str | None, parsed: ParsedEvent) -> SealedText | None:
    """A sealed value of this event, with the customer whose key sealed it."""
    return None if token is None else SealedText(sealed=token, customer_id=parsed.event.customer_id)


def _step_values(parsed: ParsedEvent) -> tuple[str, dict[str, Any]] | None:
    """The complaint step an event takes and the values it stamps (None: not a step)."""
    payload = parsed.payload
    match payload:
        case wire.ComplaintWirePayload():
            opened = {"category": payload.category, "severity": payload.severity.value}
            return "opened", {**opened, "key_points": _sealed(payload.text_sealed, parsed)}
        case ComplaintAssignedPayload():
            return "assigned", {"owner": payload.owner}
        case wire.ComplaintEscalatedWirePayload():
            reason = _sealed(payload.reason_sealed, parsed)
            return "escalated", {"escalated_to": payload.escalated_to, "escalation_reason": reason}
        case wire.ComplaintRemedyWirePayload():
            return "remedied", {"remedy": _sealed(payload.remedy_sealed, parsed)}
        case wire.ComplaintResolvedWirePayload():
            return "resolved", {"resolution": _sealed(payload.resolution_sealed, parsed)}
        case ComplaintResolvedPayload():
            return "resolved", {}
        case wire.ComplaintFollowUpWirePayload():
            comment = _sealed(payload.comment_sealed, parsed)
            return "followed_up", {
                "satisfaction": payload.satisfaction,
                "follow_up_comment": comment,
            }
    return None


def _complaint_step(parsed: ParsedEvent) -> ComplaintRecord | None:
    """What a complaint event says, as a record with only its own step stamped."""
    found = _step_values(parsed)
    if found is None:
        return None
    step, values = found
    stamp = {f"{step}_at": parsed.event.occurred_at, f"{step}_by": parsed.event_id}
    named = parsed.payload.model_dump(include={"complaint_id"})  # every step names it
    return ComplaintRecord.model_validate({**named, **values, **stamp})


def _commitment_step(parsed: ParsedEvent) -> CommitmentRecord | None:
    """A commitment made on a call or visit, or one fulfilled, as a one-step record."""
    payload, event = parsed.payload, parsed.event
    if (
        isinstance(payload, wire.CallWirePayload | wire.StoreVisitWirePayload)
        and payload.commitment
    ):
        promised = payload.commitment
        return CommitmentRecord(
            commitment_id=promised.commitment_id,
            text=_sealed(promised.text_sealed, parsed),
            due_at=promised.due_at,
            agent_id=event.agent_id,
            store_id=event.store_id,
            channel=event.channel.value,
            made_at=event.occurred_at,
            made_by=parsed.event_id,
        )
    if isinstance(payload, wire.CommitmentFulfilledWirePayload):
        return CommitmentRecord(
            commitment_id=payload.commitment_id,
            fulfilled_note=_sealed(payload.note_sealed, parsed),
            fulfilled_at=event.occurred_at,
            fulfilled_by=parsed.event_id,
        )
    return None


def _note(parsed: ParsedEvent) -> NoteRecord | None:
    """The agent's note on a call or visit, if it has one."""
    payload, event = parsed.payload, parsed.event
    if (
        not isinstance(payload, wire.CallWirePayload | wire.StoreVisitWirePayload)
        or not payload.note_sealed
    ):
        return None
    return NoteRecord(
        event_id=parsed.event_id,
        occurred_at=event.occurred_at,
        agent_id=event.agent_id,
        store_id=event.store_id,
        channel=event.channel.value,
        note=SealedText(sealed=payload.note_sealed, customer_id=event.customer_id),
    )


def apply_care(state: CustomerState, parsed: ParsedEvent, rules: FoldRules) -> None:
    """A complaint step, a commitment made or kept, or a note updates the state (in place)."""
    if (complaint := _complaint_step(parsed)) is not None:
        add_complaint(state, complaint)
    if (commitment := _commitment_step(parsed)) is not None:
        add_commitment(state.commitments, commitment)
    if (note := _note(parsed)) is not None:
        add_notes(state, [note], rules)


def get_open_complaint_clocks(state: CustomerState) -> list[tuple[str, datetime]]:
    """(severity, opened_at) of each open complaint of a live state, by complaint id: what the
    overdue count needs (none for a tombstone or a merge pointer, whose complaints are not
    shown)."""
    if state.is_erased or state.merged_into is not None:
        return []
    return [
        (record.severity or "", record.opened_at)
        for _, record in sorted(state.complaints.items())
        if record.opened_at is not None and record.resolved_at is None
    ]


def is_commitment_live(record: CommitmentRecord, now: datetime, rules: FoldRules) -> bool:
    """Made, not fulfilled, and not past its due time by more than the grace period."""
    if record.made_at is None or record.fulfilled_at is not None or record.due_at is None:
        return False
    return now <= record.due_at + timedelta(days=rules.commitment_expired_grace_days)


def last_moment(record: ComplaintRecord | CommitmentRecord) -> str:
    """The latest stamp of a record, as sortable text ("" when none)."""
    moments = [
        value
        for name, value in record
        if name.endswith("_at") and name != "due_at" and isinstance(value, datetime)
    ]
    return max(moments).isoformat() if moments else ""


def prune_care(state: CustomerState, now: datetime, rules: FoldRules) -> None:
    """Enforce the caps (in place): the newest max_complaints open complaints; the newest
    max_closed_complaints resolved ones, of which the newest closed_complaint_texts_kept whole
    and the others as clocks; the newest max_commitments live commitments and
    max_closed_commitments others; the newest max_notes notes."""
    _prune_complaints(state, rules)
    live: list[CommitmentRecord] = []
    done: list[CommitmentRecord] = []
    for commitment in state.commitments.values():
        (live if is_commitment_live(commitment, now, rules) else done).append(commitment)
    if len(live) > rules.max_commitments or len(done) > rules.max_closed_commitments:
        kept = _newest(live, rules.max_commitments) + _newest(done, rules.max_closed_commitments)
        state.commitments = {c.commitment_id: c for c in kept}
    del state.notes[rules.max_notes :]


def _newest(records: list[CommitmentRecord], count: int) -> list[CommitmentRecord]:
    """The `count` records with the latest stamps (ties by id)."""
    ranked = sorted(records, key=lambda c: (last_moment(c), c.commitment_id), reverse=True)
    return ranked[:count]


def _prune_complaints(state: CustomerState, rules: FoldRules) -> None:
    """The complaint caps of prune_care."""
    opened = [c for c in state.complaints.values() if c.resolved_at is None]
    resolved = [c for c in state.complaints.values() if c.resolved_at is not None]
    if (
        len(opened) <= rules.max_complaints
        and len(resolved) <= rules.closed_complaint_texts_kept
        and len(resolved) + len(state.complaint_clocks) <= rules.max_closed_complaints
    ):
        return
    opened.sort(key=lambda c: (last_moment(c), c.complaint_id), reverse=True)
    kept = {c.complaint_id: c for c in opened[: rules.max_complaints]}
    closed: list[tuple[datetime, str, ComplaintRecord | ComplaintClock]] = [
        (c.resolved_at, c.complaint_id, c) for c in resolved if c.resolved_at is not None
    ]
    closed += [(clock.resolved_at, cid, clock) for cid, clock in state.complaint_clocks.items()]
    closed.sort(key=lambda item: (item[0], item[1]), reverse=True)
    clocks: dict[str, ComplaintClock] = {}
    for rank, (_, complaint_id, record) in enumerate(closed[: rules.max_closed_complaints]):
        if isinstance(record, ComplaintRecord) and rank < rules.closed_complaint_texts_kept:
            kept[complaint_id] = record
        else:
            clocks[complaint_id] = (
                record if isinstance(record, ComplaintClock) else get_clock(record)
            )
    state.complaints = kept
    state.complaint_clocks = clocks


def get_care_kind(parsed: ParsedEvent) -> CareKind | None:
    """What a tier service plan counts (brief: visits and calls a month per tier): a call that
    was not dropped, or a store visit; None for everything else."""
    event_type = parsed.event.type
    if event_type == EventType.STORE_VISIT:
        return "visit"
    if event_type == EventType.CALL:
        outcome = getattr(parsed.payload, "outcome", None)
        return None if outcome == CallOutcome.DROPPED else "call"
    return None


def get_care_contact_days(days: dict[int, DayBucket], kind: CareKind) -> list[date]:
    """The days of the newest CARE_CONTACTS_KEPT contacts of a kind, newest first, one entry
    per contact (a day with two calls appears twice), from the given day buckets."""
    found: list[date] = []
    for day in sorted(days, reverse=True):
        count = days[day].care.get(kind, 0)
        found.extend([date.fromordinal(EPOCH_ORDINAL + day)] * count)
        if len(found) >= CARE_CONTACTS_KEPT:
            break
    return found[:CARE_CONTACTS_KEPT]


def get_open_commitment_dues(state: CustomerState) -> list[datetime]:
    """Due times of the commitments made and not fulfilled (sorted), for the worklist; none
    for a tombstone or a merge pointer. Expiry (due + grace) is applied by the reader."""
    if state.is_erased or state.merged_into is not None:
        return []
    return sorted(
        record.due_at
        for record in state.commitments.values()
        if record.made_at is not None and record.fulfilled_at is None and record.due_at
    )


@dataclass(frozen=True, slots=True)
class ClosedComplaintClock:
    """A resolved complaint as the managers' figures count it (no text, no ids)."""

    severity: str | None
    resolved_at: datetime
    hours_to_resolve: float | None
    """None when the opening was never seen."""
    satisfaction: int | None
    """1-5 from the latest follow-up; None before one."""


def get_closed_complaint_clocks(state: CustomerState) -> list[ClosedComplaintClock]:
    """The resolved complaints of a live state, by complaint id (none for a tombstone or a
    merge pointer): what the figures of time to resolve and satisfaction count."""
    if state.is_erased or state.merged_into is not None:
        return []
    clocks = {
        complaint_id: get_clock(record)
        for complaint_id, record in state.complaints.items()
        if record.resolved_at is not None
    }
    clocks.update(state.complaint_clocks)
    return [
        ClosedComplaintClock(
            severity=clock.severity,
            resolved_at=clock.resolved_at,
            hours_to_resolve=get_hours_to_resolve(clock),
            satisfaction=clock.satisfaction,
        )
        for _, clock in sorted(clocks.items())
    ]


def get_hours_to_resolve(clock: ComplaintClock) -> float | None:
    """Hours from opening to resolution (never negative); None when the opening is unknown."""
    if clock.opened_at is None:
        return None
    return max(0.0, (clock.resolved_at - clock.opened_at).total_seconds()) / 3600
