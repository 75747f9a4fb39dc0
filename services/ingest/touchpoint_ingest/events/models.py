"""The ingest API's own request and response shapes (the event itself is EventIn)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from touchpoint_ingest.events.validation import Violation

Loc = list[str | int]


class FieldError(BaseModel):
    """One problem with the input: where (path into the request body) and why."""

    loc: Loc
    msg: str
    type: str


def field_errors(violations: Iterable[Violation]) -> list[FieldError]:
    """Validation's violations in the HTTP error shape (path as `loc`, reason as `msg`)."""
    return [FieldError(loc=list(v.path), msg=v.reason, type=v.code) for v in violations]


class ValidationProblem(BaseModel):
    """422: every bad field of the request, each with its path and reason."""

    detail: list[FieldError]


class Problem(BaseModel):
    """4xx/5xx with a plain message (413, 415, 400, 409, 503)."""

    detail: str


class ItemStatus(StrEnum):
    """What became of one event: in Kafka now, already there, refused, or to be retried."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"


class EventAccepted(BaseModel):
    """202: the event is in Kafka (`duplicate`: it already was, nothing new was written)."""

    event_id: UUID
    status: ItemStatus


class BatchIn(BaseModel):
    """A batch: up to 1,000 events and 1 MiB (more: 413).

    Each event is checked on its own against EventIn: a bad one is rejected in its result
    (`results[i].errors`), the others are accepted. So the request itself takes any values.
    """

    events: Annotated[
        list[Any],
        Field(
            min_length=1,
            max_length=1000,
            description="Events, each an EventIn (checked one by one, see the results).",
        ),
    ]


class BatchItemResult(BaseModel):
    """What happened to one event of a batch (index = its position in `events`)."""

    index: int
    event_id: UUID | None
    status: ItemStatus
    errors: list[FieldError] = Field(default_factory=list)


class BatchResult(BaseModel):
    """Counts by status and one result per event, in request order."""

    accepted: int
    duplicates: int
    rejected: int
    unavailable: int
    results: list[BatchItemResult]
