"""What became of each valid event: its status and, when it was not accepted, the refusal."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from touchpoint_common.identity import store
from touchpoint_ingest.events.idempotency import ClaimState
from touchpoint_ingest.events.models import ItemStatus
from touchpoint_ingest.events.validation import Path, ValidEvent, Violation


class Refusal(StrEnum):
    """Why an item was not accepted; the views map it to an HTTP status."""

    CONFLICT = "event_id_conflict"
    IN_PROGRESS = "event_id_in_progress"
    ERASED = "customer_erased"
    UNKNOWN_CUSTOMER = "unknown_customer"
    UNAVAILABLE = "unavailable"
    LINK_NOT_PERMITTED = "identity_link_required"
    NOT_MERGED = "not_merged"


@dataclass(kw_only=True)
class ItemOutcome:
    """The fate of one valid event."""

    event_id: UUID
    status: ItemStatus
    refusal: Refusal | None = None
    errors: list[Violation] = field(default_factory=list)


def accepted(event_id: UUID) -> ItemOutcome:
    """The event is in Kafka now."""
    return ItemOutcome(event_id=event_id, status=ItemStatus.ACCEPTED)


def duplicate(event_id: UUID) -> ItemOutcome:
    """The event was already in Kafka: nothing new was written."""
    return ItemOutcome(event_id=event_id, status=ItemStatus.DUPLICATE)


def unavailable(event_id: UUID) -> ItemOutcome:
    """The broker or the database could not take the event now: the client retries."""
    return ItemOutcome(
        event_id=event_id, status=ItemStatus.UNAVAILABLE, refusal=Refusal.UNAVAILABLE
    )


def refused(event_id: UUID, refusal: Refusal, path: Path, reason: str) -> ItemOutcome:
    """Not accepted for this reason, named at `path` (in progress is worth a retry)."""
    status = ItemStatus.UNAVAILABLE if refusal is Refusal.IN_PROGRESS else ItemStatus.REJECTED
    return ItemOutcome(
        event_id=event_id,
        status=status,
        refusal=refusal,
        errors=[Violation.at(path, reason, refusal.value)],
    )


def claim_outcome(event_id: UUID, state: ClaimState, path: Path) -> ItemOutcome:
    """The outcome of an event_id the idempotency table already knew."""
    where = (*path, "event_id")
    if state is ClaimState.DUPLICATE:
        return duplicate(event_id)
    if state is ClaimState.IN_PROGRESS:
        msg = "an event with this event_id is being accepted right now; retry shortly"
        return refused(event_id, Refusal.IN_PROGRESS, where, msg)
    msg = "this event_id was already used for a different event"
    return refused(event_id, Refusal.CONFLICT, where, msg)


def identity_outcome(valid: ValidEvent, exc: LookupError, path: Path) -> ItemOutcome:
    """The outcome of an event whose customer is unknown or erased, named where it is wrong."""
    if isinstance(exc, store.LinkNotPermitted):
        where_link: Path = (*path, "payload", "link") if valid.link is not None else path
        return refused(valid.event_id, Refusal.LINK_NOT_PERMITTED, where_link, str(exc))
    named_directly = valid.customer.customer_id is not None
    if isinstance(exc, store.NotMerged):
        msg = "this customer is not merged into the event's customer (nothing to unmerge)"
        return refused(valid.event_id, Refusal.NOT_MERGED, (*path, "payload", "customer_id"), msg)
    if isinstance(exc, store.ErasedCustomer):
        refusal, msg = Refusal.ERASED, "this customer has been erased (asked to be forgotten)"
    elif named_directly:
        refusal, msg = Refusal.UNKNOWN_CUSTOMER, "no customer has this customer_id"
    else:
        refusal, msg = Refusal.UNKNOWN_CUSTOMER, "no customer is known by these identifiers"
    where: Path = (*path, "customer", "customer_id") if named_directly else (*path, "customer")
    if valid.link is not None and valid.link.customer_id is not None and not named_directly:
        where = (*path, "payload", "link", "customer_id")
    return refused(valid.event_id, refusal, where, msg)
