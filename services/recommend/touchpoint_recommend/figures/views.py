"""`GET /v1/figures/offers`: offer acceptance and lift over the holdout (scope figures:read)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from touchpoint_common.access.dependencies import require_scopes
from touchpoint_common.access.models import Scope
from touchpoint_common.app import get_query_error, get_runtime
from touchpoint_common.openapi import Rfc3339
from touchpoint_recommend.figures.models import OfferFigures
from touchpoint_recommend.figures.service import get_offer_figures

router = APIRouter(
    prefix="/v1/figures",
    tags=["figures"],
    dependencies=[Depends(require_scopes(Scope.FIGURES_READ))],
)
DEFAULT_DAYS = 30
MAX_DAYS = 366


@router.get("/offers", response_model=OfferFigures, summary="Offer acceptance and lift")
async def read_offer_figures(
    request: Request,
    since: Annotated[Rfc3339 | None, Query(description="Default: 30 days ago")] = None,
    until: Annotated[Rfc3339 | None, Query(description="Default: now")] = None,
) -> OfferFigures:
    """Acceptance of the offers presented in [since, until) by offer, segment and channel,
    learned arm against the holdout; at most 366 days at once."""
    end = until or datetime.now(UTC)
    start = since or end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise get_query_error("since", "since must lie before until")
    if end - start > timedelta(days=MAX_DAYS):
        raise get_query_error("since", f"at most {MAX_DAYS} days at once")
    async with get_runtime(request).sessions() as db_session:
        return await get_offer_figures(db_session=db_session, since=start, until=end)
