"""`GET /v1/worklist`: who to contact today and why (scope profiles:read)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from touchpoint_common.access.dependencies import require_scopes
from touchpoint_common.access.models import Scope
from touchpoint_common.app import get_runtime
from touchpoint_profile.settings import ProfileSettings
from touchpoint_profile.worklist.models import Reason, Worklist
from touchpoint_profile.worklist.service import WorklistCut, get_worklist

router = APIRouter(
    prefix="/v1/worklist",
    tags=["worklist"],
    dependencies=[Depends(require_scopes(Scope.PROFILES_READ))],
)


@router.get("", response_model=Worklist, summary="Who to contact today and why")
async def read_worklist(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    store_id: Annotated[
        str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")
    ] = None,
    reason: Annotated[list[Reason] | None, Query()] = None,
) -> Worklist:
    """At-risk A customers first, then open complaints past due, promises due today, at-risk
    B, lost most-valuable ones to win back, customers below their tier's care plan (A, B, C)
    and new buyers without a second purchase; each with every reason and the figures behind
    it. `store_id`: only customers whose preferred store it is; `reason` (repeatable): only
    those reasons."""
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
            cut=WorklistCut(
                care_plans=profile.care_plans,
                care_plan_days=profile.care_plan_days,
                due_within_hours=profile.worklist_due_within_hours,
            ),
            store_id=store_id,
            reasons=reason,
        )
