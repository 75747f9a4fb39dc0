"""One line a person can read for each event, e.g. "POS purchase 3 items 128.50 CNY, store 12"."""

from __future__ import annotations

from touchpoint_common.events.models import (
    CallWirePayload,
    CommitmentFulfilledWirePayload,
    ComplaintEscalatedWirePayload,
    ComplaintFollowUpWirePayload,
    ComplaintRemedyWirePayload,
    ComplaintResolvedWirePayload,
    ComplaintWirePayload,
    IdentifyPayload,
    IdentifyWirePayload,
    PageViewWirePayload,
    StoreVisitWirePayload,
)
from touchpoint_common.events.payloads import (
    CallPayload,
    ComplaintAssignedPayload,
    ComplaintResolvedPayload,
    ConsentPayload,
    MembershipPayload,
    OfferPresentedPayload,
    OfferResponsePayload,
    PageViewPayload,
    PurchasePayload,
    ReturnPayload,
    StoreVisitPayload,
)
from touchpoint_profile.fold.events import ParsedEvent

CHANNEL_NAMES = {
    "pos": "POS",
    "call_centre": "Call centre",
    "web": "Web",
    "store": "Store",
    "app": "App",
    "email": "E-mail",
    "sms": "SMS",
}


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def _minutes(seconds: int) -> str:
    return f"{max(1, round(seconds / 60))} min"


def _extras(payload: CallWirePayload | StoreVisitWirePayload) -> str:
    """ ", with a note, commitment C due <day>" for a call or visit that carries them."""
    extras = ", with a note" if payload.note_sealed else ""
    if payload.commitment is not None:
        due = payload.commitment.due_at.date().isoformat()
        extras += f", commitment {payload.commitment.commitment_id} due {due}"
    return extras


def _body(parsed: ParsedEvent) -> str:
    payload = parsed.payload
    match payload:
        case PurchasePayload():
            quantity = sum(item.quantity for item in payload.items)
            return f"purchase {_items(quantity)} {payload.amount:.2f} {payload.currency}"
        case ReturnPayload():
            quantity = sum(item.quantity for item in payload.items)
            counted = f" {_items(quantity)}" if quantity else ""
            return f"return{counted} {payload.amount:.2f} {payload.currency}"
        case CallWirePayload():
            # Reason, note and commitment are free text (sealed): the timeline never shows them.
            call = f"call ({_minutes(payload.duration_seconds)}), {payload.outcome.value}"
            return call + _extras(payload)
        case CallPayload():
            return f"call ({_minutes(payload.duration_seconds)}), {payload.outcome.value}"
        case ComplaintWirePayload():
            return (
                f"complaint {payload.complaint_id} opened: {payload.category}, "
                f"severity {payload.severity.value}"
            )
        case ComplaintResolvedPayload() | ComplaintResolvedWirePayload():
            return f"complaint {payload.complaint_id} resolved"
        case ComplaintAssignedPayload():
            return f"complaint {payload.complaint_id} assigned to {payload.owner}"
        case ComplaintEscalatedWirePayload():
            return f"complaint {payload.complaint_id} escalated to {payload.escalated_to}"
        case ComplaintRemedyWirePayload():
            return f"complaint {payload.complaint_id} remedy offered"
        case ComplaintFollowUpWirePayload():
            return (
                f"complaint {payload.complaint_id} follow-up, satisfaction {payload.satisfaction}/5"
            )
        case CommitmentFulfilledWirePayload():
            return f"commitment {payload.commitment_id} fulfilled"
        case PageViewPayload() | PageViewWirePayload():
            # The URL may carry personal data in its query string: show the category only.
            subject = payload.category or payload.sku or "page"
            return f"page view {subject}"
        case StoreVisitWirePayload():
            dwell = f" ({_minutes(payload.dwell_seconds)})" if payload.dwell_seconds else ""
            return f"visit zone {payload.zone}{dwell}{_extras(payload)}"
        case StoreVisitPayload():
            dwell = f" ({_minutes(payload.dwell_seconds)})" if payload.dwell_seconds else ""
            return f"visit zone {payload.zone}{dwell}"
        case MembershipPayload():
            tier = f", tier {payload.tier}" if payload.tier else ""
            return f"membership {payload.action.value.replace('_', ' ')}{tier}"
        case IdentifyWirePayload() | IdentifyPayload():
            return "identifiers linked"
        case OfferPresentedPayload():
            offers = ", ".join(offer.offer_id for offer in payload.offers) or "none"
            return f"offers presented: {offers}"
        case OfferResponsePayload():
            return f"offer {payload.offer_id} {payload.outcome.value}"
        case ConsentPayload():
            channel = CHANNEL_NAMES.get(payload.channel.value, payload.channel.value)
            return f"consent {payload.purpose.value} on {channel} {payload.status.value}"
    return parsed.event.type.value.replace("_", " ")


def describe(parsed: ParsedEvent) -> str:
    """The timeline line of an event; never contains identifiers or free text."""
    event = parsed.event
    channel = CHANNEL_NAMES.get(event.channel.value, event.channel.value)
    store = f", store {event.store_id}" if event.store_id else ""
    return f"{channel} {_body(parsed)}{store}"
