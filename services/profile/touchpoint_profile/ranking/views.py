"""HTTP routes: run the ranking job on demand (admin), and the customer figures managers read."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException, Request

from touchpoint_common.access.dependencies import require_scopes
from touchpoint_common.access.models import Scope
from touchpoint_common.app import get_runtime
from touchpoint_profile.ranking.models import CustomerFiguresOut, RunOut
from touchpoint_profile.ranking.service import get_latest_run, run_ranking
from touchpoint_profile.settings import ProfileSettings

admin_router = APIRouter(
    prefix="/v1/admin/rankings",
    tags=["admin"],
    dependencies=[Depends(require_scopes(Scope.ADMIN))],
)
figures_router = APIRouter(
    prefix="/v1/figures",
    tags=["figures"],
    dependencies=[Depends(require_scopes(Scope.FIGURES_READ))],
)


def _settings(request: Request) -> ProfileSettings:
    settings = get_runtime(request).settings
    return settings if isinstance(settings, ProfileSettings) else ProfileSettings()


@admin_router.post("/run", response_model=RunOut, summary="Run the ranking job now")
async def run_now(request: Request) -> RunOut:
    """Compute, store and publish a ranking now; `ran: false` says why not (another replica
    is running it, or the base has too few buyers)."""
    runtime = get_runtime(request)
    result = await run_ranking(
        sessions=runtime.sessions,
        publisher=runtime.get_publisher(),
        settings=_settings(request),
        now=datetime.now(UTC),
    )
    if result.run is None:
        return RunOut(ran=False, reason=result.reason)
    return RunOut(
        ran=True,
        ranking=result.run.ranking,
        duration_s=result.run.duration_s,
        published=result.published,
    )


@figures_router.get(
    "/customers",
    response_model=CustomerFiguresOut,
    summary="ABC, lifecycle, churn figures",
    responses={404: {"description": "No ranking has been computed yet."}},
)
async def read_customer_figures(request: Request) -> CustomerFiguresOut:
    """The figures of the newest ranking (404 before the first run), with its version."""
    async with get_runtime(request).sessions() as db_session:
        run = await get_latest_run(db_session=db_session)
    if run is None:
        raise HTTPException(status_code=404, detail="no ranking computed yet")
    return CustomerFiguresOut(
        **run.figures.model_dump(),
        ranking_version=run.ranking.version,
        ranking_computed_at=run.ranking.computed_at,
    )
