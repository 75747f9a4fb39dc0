"""HTTP routes of the customer view: by id, by phone / loyalty id / e-mail, and the timeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.access.audit import audit_read
from touchpoint_common.access.dependencies import require_scopes
from touchpoint_common.access.models import Scope
from touchpoint_common.app import get_model_response, get_query_error, get_runtime
from touchpoint_common.events.models import NO_CONTROL_CHARACTERS
from touchpoint_common.events.payloads import IdentifierKind
from touchpoint_common.identity.lookup import BadIdentifier
from touchpoint_common.openapi import Rfc3339
from touchpoint_common.runtime import Runtime
from touchpoint_profile.customers.models import CustomerTimeline, CustomerView
from touchpoint_profile.customers.service import (
    LOOKUP_KINDS,
    get_customer_timeline,
    get_customer_view,
    lookup_customer_view,
)
from touchpoint_profile.fold.ranking import BaseRanking
from touchpoint_profile.ranking.current import get_current_ranking
from touchpoint_profile.settings import ProfileSettings

router = APIRouter(
    prefix="/v1/customers",
    tags=["customers"],
    dependencies=[Depends(require_scopes(Scope.PROFILES_READ))],
)
NOT_FOUND = "unknown or erased customer"
# What a view reveals (identifiers masked), as the audit log names it.
VIEW_FIELDS = ("identifiers.masked", "figures")


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A read-only session per request, in autocommit (no BEGIN / ROLLBACK round trips)."""
    runtime: Runtime = get_runtime(request)
    async with runtime.read_sessions() as session:
        yield session


async def get_profile_settings(request: Request) -> ProfileSettings:
    """The service's settings (async: FastAPI runs a plain `def` dependency in a thread)."""
    settings = get_runtime(request).settings
    return settings if isinstance(settings, ProfileSettings) else ProfileSettings()


async def get_ranking(request: Request) -> BaseRanking | None:
    """The newest base-wide ranking views are graded with; None: the FoldRules defaults."""
    async with get_runtime(request).sessions() as db_session:
        return await get_current_ranking(db_session=db_session)


Session = Annotated[AsyncSession, Depends(get_db_session)]
Settings = Annotated[ProfileSettings, Depends(get_profile_settings)]
Ranking = Annotated[BaseRanking | None, Depends(get_ranking)]
AsOf = Annotated[
    Rfc3339 | None,
    Query(
        description="Evaluate windows and decay at this moment (default: now), with offset; "
        "between 1970-01-01 and 9000-01-01 once in UTC (else 422)."
    ),
]


CustomerIdPath = Annotated[str, Path(max_length=100, pattern=NO_CONTROL_CHARACTERS)]
EARLIEST_AS_OF = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_AS_OF = datetime(9000, 1, 1, tzinfo=UTC)


def _moment(as_of: datetime | None) -> datetime:
    """`as_of` (default now) in UTC; 422 outside 1970..9000, where windows and decay hold."""
    if as_of is None:
        return datetime.now(UTC)
    try:
        moment = as_of.astimezone(UTC)
    except OverflowError as exc:
        raise get_query_error("as_of", "as_of lies outside the calendar once in UTC") from exc
    if not EARLIEST_AS_OF <= moment < LATEST_AS_OF:
        raise get_query_error("as_of", "as_of must lie between 1970-01-01 and 9000-01-01")
    return moment


@router.get(
    "/lookup",
    response_model=CustomerView,
    summary="Find a customer by identifier",
    responses={404: {"description": "No customer has this identifier."}},
)
async def lookup(
    request: Request,
    db_session: Session,
    settings: Settings,
    ranking: Ranking,
    phone: Annotated[str | None, Query(max_length=64, examples=["138 1234 5678"])] = None,
    loyalty_id: Annotated[str | None, Query(max_length=100)] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    as_of: AsOf = None,
) -> Response:
    """Exactly one of phone (any common format), loyalty_id or email; 404 when unknown."""
    given: dict[IdentifierKind, str | None] = {
        "phone": phone,
        "loyalty_id": loyalty_id,
        "email": email,
    }
    present = [(kind, value) for kind, value in given.items() if value]
    if len(present) != 1:
        raise get_query_error(
            "phone" if not present else present[1][0],
            f"give exactly one of {', '.join(LOOKUP_KINDS)}",
        )
    kind, raw = present[0]
    assert raw is not None
    try:
        view = await lookup_customer_view(
            db_session=db_session,
            kind=kind,
            raw_value=raw,
            now=_moment(as_of),
            settings=settings,
            ranking=ranking,
        )
    except BadIdentifier as exc:
        raise get_query_error(exc.field, exc.reason) from exc
    if view is None:
        raise HTTPException(status_code=404, detail=f"no customer with this {kind}")
    audit_read(
        request,
        customer_id=view.customer_id,
        action=f"profile.lookup.{kind}",
        fields=VIEW_FIELDS,
    )
    return get_model_response(view)


@router.get("/{customer_id}", response_model=CustomerView, summary="The live customer view")
async def read_customer(
    request: Request,
    customer_id: CustomerIdPath,
    db_session: Session,
    settings: Settings,
    ranking: Ranking,
    as_of: AsOf = None,
) -> Response:
    """The view at `as_of` (default now); 404 for an unknown or erased customer."""
    view = await get_customer_view(
        db_session=db_session,
        customer_id=customer_id,
        now=_moment(as_of),
        settings=settings,
        ranking=ranking,
    )
    if view is None:
        raise HTTPException(status_code=404, detail=NOT_FOUND)
    audit_read(request, customer_id=view.customer_id, action="profile.view", fields=VIEW_FIELDS)
    return get_model_response(view)


@router.get(
    "/{customer_id}/timeline", response_model=CustomerTimeline, summary="Latest interactions"
)
async def read_timeline(
    request: Request,
    customer_id: CustomerIdPath,
    db_session: Session,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> CustomerTimeline:
    """The newest `limit` interactions, newest first (at most the configured timeline size)."""
    timeline = await get_customer_timeline(
        db_session=db_session, customer_id=customer_id, limit=limit
    )
    if timeline is None:
        raise HTTPException(status_code=404, detail=NOT_FOUND)
    audit_read(request, customer_id=customer_id, action="profile.timeline", fields=["timeline"])
    return timeline
