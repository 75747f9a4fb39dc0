"""GET next offers for a customer, by id or by phone / loyalty id / e-mail."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from sqlalchemy.exc import SQLAlchemyError

from touchpoint_common.access.dependencies import require_scopes
from touchpoint_common.access.models import Scope
from touchpoint_common.app import get_model_response, get_query_error
from touchpoint_common.db.errors import is_retryable
from touchpoint_common.events.models import NO_CONTROL_CHARACTERS
from touchpoint_common.events.payloads import IdentifierKind
from touchpoint_common.identity.lookup import (
    BadIdentifier,
    find_customer_by_identifier,
    find_live_customer_id,
)
from touchpoint_common.runtime import Runtime
from touchpoint_recommend.decisions.models import Attribution, DecisionChannel, NextOffers
from touchpoint_recommend.decisions.service import DecisionDeps, create_next_offers

logger = logging.getLogger(__name__)
router = APIRouter(
    prefix="/v1/customers",
    tags=["next offers"],
    dependencies=[Depends(require_scopes(Scope.OFFERS_READ))],
)

ChannelQuery = Annotated[
    DecisionChannel, Query(description="where the customer is: pos, call_centre or web")
]
LimitQuery = Annotated[int | None, Query(ge=1, le=20, description="how many offers (default 3)")]
REFERENCE_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
"""A store or agent reference: no control characters, not blank (stripped before use)."""
StoreQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        pattern=REFERENCE_PATTERN,
        description="the store asking (attribution: acceptance by store)",
    ),
]
AgentQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        pattern=REFERENCE_PATTERN,
        description="the clerk or agent asking (attribution)",
    ),
]
RETRY_AFTER = {"Retry-After": "2"}


async def get_attribution(store_id: StoreQuery = None, agent_id: AgentQuery = None) -> Attribution:
    """The store and agent a next-offers request names (query parameters), stripped (async:
    FastAPI runs a plain `def` dependency in a worker thread, a hop per request)."""
    return Attribution(
        store_id=store_id.strip() if store_id else None,
        agent_id=agent_id.strip() if agent_id else None,
    )


AttributionQuery = Annotated[Attribution, Depends(get_attribution)]


def _deps(request: Request) -> tuple[Runtime, DecisionDeps]:
    return request.app.state.runtime, request.app.state.decision_deps


async def _answer(
    request: Request,
    *,
    customer_id: str | None,
    lookup: tuple[IdentifierKind, str] | None,
    channel: str,
    limit: int | None,
    attribution: Attribution,
) -> NextOffers:
    runtime, deps = _deps(request)
    now = datetime.now(UTC)
    try:
        async with runtime.sessions() as db_session:
            if lookup is not None:
                kind, raw = lookup
                resolved = await find_customer_by_identifier(
                    db_session=db_session,
                    kind=kind,
                    raw=raw,
                    hmac_key=deps.settings.hmac_key_ring(),
                    default_region=deps.settings.default_phone_region,
                )
            else:
                assert customer_id is not None
                resolved = await find_live_customer_id(
                    db_session=db_session, customer_id=customer_id
                )
            return await create_next_offers(
                db_session=db_session,
                deps=deps,
                customer_id=resolved,
                channel=channel,
                limit=limit or deps.settings.recommend_default_limit,
                now=now,
                attribution=attribution,
            )
    except BadIdentifier as exc:
        raise get_query_error(exc.field, exc.reason) from exc
    except (SQLAlchemyError, OSError) as exc:
        if not is_retryable(exc):
            raise
        logger.warning("database unavailable", extra={"error": type(exc).__name__})
        raise HTTPException(
            status_code=503, detail="database unavailable, try again", headers=RETRY_AFTER
        ) from exc


@router.get(
    "/lookup/next-offers",
    response_model=NextOffers,
    summary="Next offers for a customer found by phone or loyalty id",
)
async def get_next_offers_by_lookup(
    request: Request,
    channel: ChannelQuery,
    attribution: AttributionQuery,
    phone: Annotated[str | None, Query(max_length=64)] = None,
    loyalty_id: Annotated[str | None, Query(max_length=100)] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    limit: LimitQuery = None,
) -> Response:
    """Exactly one of phone, loyalty_id, email; an unknown one gets the channel's default."""
    candidates: list[tuple[IdentifierKind, str | None]] = [
        ("phone", phone),
        ("loyalty_id", loyalty_id),
        ("email", email),
    ]
    given = [(kind, value) for kind, value in candidates if value]
    if len(given) != 1:
        raise get_query_error(
            given[1][0] if given else "phone",
            "give exactly one of the query parameters phone, loyalty_id, email",
        )
    return get_model_response(
        await _answer(
            request,
            customer_id=None,
            lookup=given[0],
            channel=channel,
            limit=limit,
            attribution=attribution,
        )
    )


@router.get(
    "/{customer_id}/next-offers", response_model=NextOffers, summary="Next offers for a customer"
)
async def get_next_offers(
    request: Request,
    customer_id: Annotated[str, Path(min_length=1, max_length=100, pattern=NO_CONTROL_CHARACTERS)],
    channel: ChannelQuery,
    attribution: AttributionQuery,
    limit: LimitQuery = None,
) -> Response:
    """Ranked offers with score terms and reasons; an unknown id gets the channel's default.
    store_id and agent_id (optional) are recorded with the decision and on its event."""
    return get_model_response(
        await _answer(
            request,
            customer_id=customer_id,
            lookup=None,
            channel=channel,
            limit=limit,
            attribution=attribution,
        )
    )
