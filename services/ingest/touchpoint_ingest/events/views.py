"""POST /v1/events and POST /v1/events/batch.

The body is read by hand (not by FastAPI) so that size limits are enforced before parsing,
decimals stay exact, and every error names its path in the house shape.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from touchpoint_common.access.dependencies import get_principal, require_scopes
from touchpoint_common.access.service import EVENT_POSTING_SCOPES, event_refusal
from touchpoint_common.observability.metrics import EVENTS_REJECTED
from touchpoint_ingest.events.admission import Admission
from touchpoint_ingest.events.bounds import measure, unstorable
from touchpoint_ingest.events.coalesce import Coalescer, Overloaded
from touchpoint_ingest.events.context import SERVICE, IngestContext
from touchpoint_ingest.events.examples import EVENT_EXAMPLES
from touchpoint_ingest.events.models import (
    BatchItemResult,
    BatchResult,
    EventAccepted,
    FieldError,
    ItemStatus,
    Problem,
    ValidationProblem,
    field_errors,
)
from touchpoint_ingest.events.outcomes import ItemOutcome, Refusal
from touchpoint_ingest.events.permission import sender_may_link
from touchpoint_ingest.events.validation import (
    MalformedBody,
    Path,
    ValidEvent,
    Violation,
    parse_json,
    validate_event,
)

logger = logging.getLogger(__name__)
_DIGITS = re.compile(r"[0-9]+")
_MAX_LENGTH_DIGITS = 15
router = APIRouter(
    prefix="/v1",
    tags=["events"],
    dependencies=[Depends(require_scopes(*EVENT_POSTING_SCOPES))],
)


class RequestProblem(Exception):
    """A request refused before its events are looked at (size, content type, JSON)."""

    def __init__(self, status: int, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.status, self.detail, self.reason = status, detail, reason


_COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body is not valid JSON."},
    413: {
        "model": Problem,
        "description": "Body over the size limit, too many JSON values, or too many events.",
    },
    415: {"model": Problem, "description": "Content-Type is not application/json."},
    422: {
        "model": ValidationProblem,
        "description": "Every bad field, by path and reason (also: nested too deep, at body).",
    },
    503: {
        "model": Problem,
        "description": (
            "Broker or database unavailable, or the service is overloaded: nothing was "
            "accepted. See Retry-After."
        ),
    },
}


def _request_body(schema: str, examples: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{schema}"},
                    "examples": {name: {"value": value} for name, value in examples.items()},
                }
            },
        }
    }


@router.post(
    "/events",
    status_code=202,
    summary="Post one event",
    response_model=EventAccepted,
    responses={
        **_COMMON_RESPONSES,
        403: {
            "model": Problem,
            "description": (
                "The event would link identifiers across customers, merge or unmerge, and "
                "the sender lacks identity:link."
            ),
        },
        409: {"model": Problem, "description": "event_id reused, in progress, or erased."},
    },
    openapi_extra=_request_body("EventIn", EVENT_EXAMPLES),
)
async def post_event(request: Request) -> JSONResponse:
    """Accept one event: 202 with its event_id once the broker has acknowledged it."""
    context = _get_context(request)
    with _admitted(request) as admitted:
        if not admitted:
            return _overloaded(context, "too many requests in flight")
        read = await _read_events(request, context, lambda raw: [raw])
        if isinstance(read, JSONResponse):
            return read
        checked = _check_event(
            read[0],
            context=context,
            now=datetime.now(UTC),
            path=("body",),
            may_link=sender_may_link(request),
        )
        if isinstance(checked, list):
            EVENTS_REJECTED.labels(SERVICE, "validation").inc()
            return _validation_response(field_errors(checked))
        try:
            [outcome] = await _get_coalescer(request).submit([checked], [("body",)])
        except Overloaded as exc:
            return _overloaded(context, str(exc))
        return _single_response(outcome, context)


@router.post(
    "/events/batch",
    summary="Post up to 1,000 events",
    response_model=BatchResult,
    responses=_COMMON_RESPONSES,
    openapi_extra=_request_body(
        "BatchIn",
        {"mixed": {"events": [EVENT_EXAMPLES["page_view"], EVENT_EXAMPLES["identify"]]}},
    ),
)
async def post_batch(request: Request) -> JSONResponse:
    """Accept the valid events of a batch and explain each invalid one (index, errors)."""
    context = _get_context(request)
    with _admitted(request) as admitted:
        if not admitted:
            return _overloaded(context, "too many requests in flight")
        limit = context.settings.max_batch_events
        read = await _read_events(request, context, lambda raw: _batch_items(raw, max_events=limit))
        if isinstance(read, JSONResponse):
            return read
        return await _accept_batch(request, context, read)


async def _read_events(
    request: Request, context: IngestContext, split: Callable[[Any], list[Any]]
) -> list[Any] | JSONResponse:
    """The body's events (`split` finds them) after the size, shape and key checks, or the
    refusal to answer with."""
    try:
        items = split(await _read_body(request, context))
        _check_permitted(request, items)
    except RequestProblem as problem:
        return _refuse(problem, context)
    except _EnvelopeInvalid as invalid:
        EVENTS_REJECTED.labels(SERVICE, "validation").inc()
        return _validation_response(invalid.errors)
    return items


async def _accept_batch(request: Request, context: IngestContext, items: list[Any]) -> JSONResponse:
    """Validate each item, pass the valid ones to the pipeline, answer one result per item."""
    now = datetime.now(UTC)
    may_link = sender_may_link(request)
    results: list[BatchItemResult | None] = [None] * len(items)
    valid: list[tuple[int, ValidEvent]] = []
    for index, item in enumerate(items):
        checked = _check_event(
            item, context=context, now=now, path=_item_path(index), may_link=may_link
        )
        if isinstance(checked, list):
            EVENTS_REJECTED.labels(SERVICE, "validation").inc()
            event_id = item.get("event_id") if isinstance(item, dict) else None
            results[index] = BatchItemResult(
                index=index,
                event_id=_uuid_or_none(event_id),
                status=ItemStatus.REJECTED,
                errors=field_errors(checked),
            )
        else:
            valid.append((index, checked))
    try:
        outcomes = await _get_coalescer(request).submit(
            [event for _, event in valid], [_item_path(index) for index, _ in valid]
        )
    except Overloaded as exc:
        return _overloaded(context, str(exc))
    for (index, _), outcome in zip(valid, outcomes, strict=True):
        results[index] = BatchItemResult(
            index=index,
            event_id=outcome.event_id,
            status=outcome.status,
            errors=field_errors(outcome.errors),
        )
    return _batch_response([result for result in results if result is not None], context)


def _check_event(
    raw: object, *, context: IngestContext, now: datetime, path: Path, may_link: bool
) -> ValidEvent | list[Violation]:
    """What cannot be stored downstream first (validation would trip on it), then the rest."""
    problems = unstorable(raw, path)
    if problems:
        return problems
    return validate_event(raw, now=now, rules=context.rules, path=path, may_link=may_link)


@contextlib.contextmanager
def _admitted(request: Request) -> Iterator[bool]:
    """Whether this request may proceed (a slot among the in-flight requests), held until done."""
    admission: Admission = request.app.state.admission
    admitted = admission.try_enter()
    try:
        yield admitted
    finally:
        if admitted:
            admission.leave()


def _overloaded(context: IngestContext, reason: str) -> JSONResponse:
    """503 + Retry-After: the service sheds load; nothing of this request was accepted."""
    EVENTS_REJECTED.labels(SERVICE, "overloaded").inc()
    return JSONResponse(
        {"detail": f"overloaded ({reason}); retry later (nothing accepted)"},
        status_code=503,
        headers=_retry_after(context),
    )


async def _read_body(request: Request, context: IngestContext) -> Any:
    """The body parsed within the configured size, depth and value-count bounds."""
    settings = context.settings
    return await _read_json(
        request,
        max_bytes=settings.max_body_bytes,
        max_depth=settings.max_json_depth,
        max_values=settings.max_json_values,
    )


class _EnvelopeInvalid(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("invalid batch envelope")
        self.errors = errors


def _item_path(index: int) -> Path:
    """Where the index-th event of a batch is in the request body."""
    return ("body", "events", index)


def _uuid_or_none(value: object) -> UUID | None:
    try:
        return UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def _batch_items(raw: object, *, max_events: int) -> list[Any]:
    if not isinstance(raw, dict):
        raise _EnvelopeInvalid(
            [FieldError(loc=["body"], msg='expected {"events": [...]}', type="dict_type")]
        )
    errors = [
        FieldError(loc=["body", key], msg="Extra inputs are not permitted", type="extra_forbidden")
        for key in raw
        if key != "events"
    ]
    events = raw.get("events")
    if not isinstance(events, list):
        errors.append(FieldError(loc=["body", "events"], msg="a list is required", type="list"))
    elif not events:
        errors.append(
            FieldError(loc=["body", "events"], msg="at least one event is required", type="empty")
        )
    if errors:
        raise _EnvelopeInvalid(errors)
    assert isinstance(events, list)
    if len(events) > max_events:
        raise RequestProblem(
            413, f"a batch holds at most {max_events} events (got {len(events)})", "size"
        )
    return events


async def _read_json(request: Request, *, max_bytes: int, max_depth: int, max_values: int) -> Any:
    """The body as JSON after checking content type and size (declared, then actual)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise RequestProblem(415, "Content-Type must be application/json", "content_type")
    declared = request.headers.get("content-length")
    if declared is not None:
        if _DIGITS.fullmatch(declared) is None:
            raise RequestProblem(400, "Content-Length is not a number", "malformed")
        if len(declared) > _MAX_LENGTH_DIGITS or int(declared) > max_bytes:
            raise RequestProblem(413, f"the body is over the {max_bytes}-byte limit", "size")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise RequestProblem(413, f"the body is over the {max_bytes}-byte limit", "size")
    shape = measure(bytes(body))
    if shape.depth > max_depth:
        raise _EnvelopeInvalid(
            [FieldError(loc=["body"], msg=f"nested deeper than {max_depth} levels", type="depth")]
        )
    if shape.values > max_values:
        raise RequestProblem(413, f"the body holds more than {max_values} JSON values", "size")
    try:
        return parse_json(bytes(body))
    except MalformedBody as exc:
        raise RequestProblem(400, str(exc), "malformed") from exc


def _get_context(request: Request) -> IngestContext:
    context: IngestContext = request.app.state.ingest
    return context


def _get_coalescer(request: Request) -> Coalescer:
    coalescer: Coalescer = request.app.state.coalescer
    return coalescer


def _retry_after(context: IngestContext) -> dict[str, str]:
    return {"Retry-After": str(context.settings.retry_after_s)}


def _check_permitted(request: Request, items: list[Any]) -> None:
    """403 naming why when the request's key may not post one of these events."""
    principal = get_principal(request)
    for index, item in enumerate(items):
        refusal = event_refusal(principal, item)
        if refusal is not None:
            where = "" if len(items) == 1 else f"event {index}: "
            raise RequestProblem(403, f"{where}{refusal}", "forbidden")


def _refuse(problem: RequestProblem, context: IngestContext) -> JSONResponse:
    EVENTS_REJECTED.labels(SERVICE, problem.reason).inc()
    return JSONResponse({"detail": problem.detail}, status_code=problem.status)


def _validation_response(errors: list[FieldError]) -> JSONResponse:
    body = ValidationProblem(detail=errors).model_dump(mode="json")
    return JSONResponse(body, status_code=422)


def _single_response(outcome: ItemOutcome, context: IngestContext) -> JSONResponse:
    if outcome.status in (ItemStatus.ACCEPTED, ItemStatus.DUPLICATE):
        accepted = EventAccepted(event_id=outcome.event_id, status=outcome.status)
        return JSONResponse(accepted.model_dump(mode="json"), status_code=202)
    if outcome.refusal in (Refusal.UNKNOWN_CUSTOMER, Refusal.NOT_MERGED):
        return _validation_response(field_errors(outcome.errors))
    message = outcome.errors[0].reason if outcome.errors else "broker or database unavailable"
    if outcome.refusal is Refusal.IN_PROGRESS:
        return JSONResponse({"detail": message}, status_code=409, headers={"Retry-After": "1"})
    if outcome.refusal in (Refusal.CONFLICT, Refusal.ERASED):
        return JSONResponse({"detail": message}, status_code=409)
    if outcome.refusal is Refusal.LINK_NOT_PERMITTED:
        return JSONResponse({"detail": message}, status_code=403)
    return JSONResponse(
        {"detail": "the event could not be written to Kafka in time; retry (nothing accepted)"},
        status_code=503,
        headers=_retry_after(context),
    )


def _batch_response(results: list[BatchItemResult], context: IngestContext) -> JSONResponse:
    counts = dict.fromkeys(ItemStatus, 0)
    for result in results:
        counts[result.status] += 1
    body = BatchResult(
        accepted=counts[ItemStatus.ACCEPTED],
        duplicates=counts[ItemStatus.DUPLICATE],
        rejected=counts[ItemStatus.REJECTED],
        unavailable=counts[ItemStatus.UNAVAILABLE],
        results=results,
    )
    if counts[ItemStatus.UNAVAILABLE]:
        return JSONResponse(
            body.model_dump(mode="json"), status_code=503, headers=_retry_after(context)
        )
    return JSONResponse(body.model_dump(mode="json"), status_code=200)
