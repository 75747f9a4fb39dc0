"""`GET /v1/worklist`: who to contact today and why (scope profiles:read)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from touchpoint_common.access.dependencies import require_scopes
from touchpoint_common.access.models import Scope
from touchpoint_common.app import get_runtime
from touchpoint_profile.settings import ProfileSettings
from touchpoint_profile.worklist.models import Worklist
from touchpoint_profile.worklist.service import get_worklist

router = APIRouter(
    prefix="/v1/worklist",
    tags=["worklist"],
    dependencies=[Depends(require_scopes(Scope.PROFILES_READ))],
)


@router.get("", response_model=Worklist, summary="Who to contact today and why")
async def read_worklist(
    request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> Worklist:
    """At-risk A customers first, then at-risk B, lost most-valuable ones to win back, and new
    buyers without a second purchase; each with the reason and the figures behind it."""
    runtime = get_runtime(request)
    settings = runtime.settings
    profile = settings if isinstance(settings, ProfileSettings) else ProfileSettings()
    async with runtime.sessions() as db_session:
        return await get_worklist(
            db_session=db_session,
            now=datetime.now(UTC),
            rules=profile.profile_rules,
            currency=profile.profile_rules.reporting_currency,
            limit=limit,
        )
