"""What learning has achieved: acceptance of the learned arm against the holdout."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from touchpoint_common.access.dependencies import require_scopes
from touchpoint_common.access.models import Scope
from touchpoint_common.db.errors import is_retryable
from touchpoint_common.runtime import Runtime
from touchpoint_recommend.store.postgres import PostgresRecommendStore
from touchpoint_recommend.store.protocol import ArmSummary

router = APIRouter(
    prefix="/v1/admin/learning", tags=["admin"], dependencies=[Depends(require_scopes(Scope.ADMIN))]
)


class LearningSummary(BaseModel):
    """Top-offer acceptance per arm, and the gain of learning over the holdout."""

    arms: dict[str, ArmSummary]
    learned_rate: float | None
    holdout_rate: float | None
    gain: float | None


def _rate(arm: ArmSummary | None) -> float | None:
    return arm.accepted / arm.responses if arm and arm.responses else None


@router.get("/summary", summary="Acceptance learned vs holdout")
async def get_learning_summary(request: Request) -> LearningSummary:
    """Rates over the responses recorded so far (top-ranked offer of each decision)."""
    runtime: Runtime = request.app.state.runtime
    try:
        async with runtime.sessions() as db_session:
            arms = await PostgresRecommendStore(db_session).get_arm_summary()
    except (SQLAlchemyError, OSError) as exc:
        if not is_retryable(exc):
            raise
        raise HTTPException(
            status_code=503, detail="database unavailable, try again", headers={"Retry-After": "2"}
        ) from exc
    learned, holdout = _rate(arms.get("learned")), _rate(arms.get("holdout"))
    gain = learned - holdout if learned is not None and holdout is not None else None
    return LearningSummary(arms=arms, learned_rate=learned, holdout_rate=holdout, gain=gain)
