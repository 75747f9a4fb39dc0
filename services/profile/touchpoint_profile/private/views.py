"""GET /v1/customers/{id}/private: identifiers and texts in clear, for profiles:read_pii only."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request

from touchpoint_common.access.audit import audit_read
from touchpoint_common.access.dependencies import require_scopes
from touchpoint_common.access.models import Scope
from touchpoint_profile.customers.views import NOT_FOUND, CustomerIdPath, Session, Settings
from touchpoint_profile.private.models import CustomerPrivate
from touchpoint_profile.private.service import get_customer_private

router = APIRouter(
    prefix="/v1/customers",
    tags=["customers"],
    dependencies=[Depends(require_scopes(Scope.PROFILES_READ_PII))],
)


@router.get(
    "/{customer_id}/private",
    response_model=CustomerPrivate,
    summary="Identifiers and texts in clear (audited)",
)
async def read_private(
    request: Request, customer_id: CustomerIdPath, db_session: Session, settings: Settings
) -> CustomerPrivate:
    """Unmasked identifiers and the texts of complaints, commitments and notes; every call is
    audited with the fields it revealed; 404 for an unknown or erased customer."""
    private = await get_customer_private(
        db_session=db_session, customer_id=customer_id, kek=settings.kek_ring()
    )
    if private is None:  # the attempt is audited too: it revealed nothing
        audit_read(request, customer_id=customer_id, action="profile.private", fields=[])
        raise HTTPException(status_code=404, detail=NOT_FOUND)
    audit_read(
        request,
        customer_id=private.customer_id,
        action="profile.private",
        fields=private.revealed_fields(),
    )
    return private
