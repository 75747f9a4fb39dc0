"""The customer view as the API returns it."""

from __future__ import annotations

from pydantic import BaseModel

from touchpoint_common.events.payloads import IdentifierKind
from touchpoint_profile.fold.view import ProfileFigures, TimelineLine


class MaskedIdentifier(BaseModel):
    """An identifier in display form: enough to confirm who is calling, not to copy it."""

    kind: IdentifierKind
    masked: str


class CustomerView(ProfileFigures):
    """The live customer view: the folded figures at `as_of` plus masked identifiers."""

    identifiers: list[MaskedIdentifier]


class CustomerTimeline(BaseModel):
    """The newest interactions of one customer."""

    customer_id: str
    timeline: list[TimelineLine]
