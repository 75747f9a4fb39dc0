"""The repeat rules: a second copy of an event_id within one pass shares the first's fate.

Only the first copy of each event_id is claimed and produced. A later copy with the same
content is a duplicate once the first is in Kafka, and unavailable (or in progress) with it;
a later copy with different content is a conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from uuid import UUID

from touchpoint_ingest.events.idempotency import ClaimState
from touchpoint_ingest.events.models import ItemStatus
from touchpoint_ingest.events.outcomes import ItemOutcome, claim_outcome, duplicate
from touchpoint_ingest.events.validation import Path, ValidEvent


def first_copies(events: Sequence[ValidEvent]) -> dict[UUID, int]:
    """The index of the first copy of each event_id, in order of appearance."""
    first: dict[UUID, int] = {}
    for index, valid in enumerate(events):
        first.setdefault(valid.event_id, index)
    return first


def repeat_outcome(
    valid: ValidEvent, *, first: ValidEvent, first_outcome: ItemOutcome, path: Path
) -> ItemOutcome:
    """The fate of a later copy of `first`, given what became of the first copy."""
    if valid.fingerprint != first.fingerprint:
        return claim_outcome(valid.event_id, ClaimState.CONFLICT, path)
    if first_outcome.status in (ItemStatus.ACCEPTED, ItemStatus.DUPLICATE):
        return duplicate(valid.event_id)
    return replace(first_outcome, errors=list(first_outcome.errors))
