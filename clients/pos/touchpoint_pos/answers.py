"""What ingest's answer to a batch means for each event in it (pure: no I/O).

`POST /v1/events/batch` answers 200 with one result per event (`accepted`, `duplicate`,
`rejected` with the errors, `unavailable`), or 503 + Retry-After with the same body when some
event could not be written now, or a whole-request status (401/403/413/422/429/503...). Each
event of the batch gets one fate: sent (only from a 2xx result that names it), rejected for
good (a 4xx refusal of that event, with the server's reason), or retried later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

SETTLED = frozenset({"accepted", "duplicate"})
_EVENT_INDEX = re.compile(r"^event (\d+): ")
_KEY_LEVEL_SCOPE = re.compile(r"^missing scope [a-z_:]+$")
_REQUEST_REFUSALS = frozenset({400, 413, 415, 422})
_RETRY_STATUSES = frozenset({408, 425, 429})


class Fate(StrEnum):
    """What becomes of one event after an answer."""

    SENT = "sent"
    REJECTED = "rejected"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class EventVerdict:
    """One event's fate, the answer that decided it (`accepted`, `duplicate`, `422`...) and why."""

    fate: Fate
    answer: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The fates of a batch's events and what the flusher does next."""

    events: dict[str, EventVerdict]
    retry_after: float | None = None
    """Seconds the server asked to wait (Retry-After), if it said."""
    split: bool = False
    """A whole-request refusal of a batch of several: send smaller batches to find the culprit."""
    stalled: str | None = None
    """The key or the URL is refused: nothing can be sent until an operator fixes it."""
    resend_now: bool = False
    """The events to retry were only held back by another's refusal: no need to wait."""
    summary: str = ""
    accepted: int = field(default=0)

    def retries(self) -> list[str]:
        """The event ids to send again."""
        return [key for key, verdict in self.events.items() if verdict.fate is Fate.RETRY]


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After in seconds: delta-seconds or an HTTP date (RFC 9110); None if absent/bad."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify(
    event_ids: Sequence[str],
    *,
    status: int | None,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    error: str | None = None,
    now: datetime | None = None,
) -> Verdict:
    """The verdict on a batch of `event_ids` (in request order) from ingest's answer.

    `status` None means no answer at all (`error` names the transport failure).
    """
    if status is None:
        return _retry_all(event_ids, f"no answer: {error or 'transport error'}", None)
    retry_after = parse_retry_after(_header(headers, "retry-after"), now)
    parsed = _json(body)
    results = parsed.get("results") if isinstance(parsed, dict) else None
    if status in (200, 503) and isinstance(results, list):
        return _per_event(event_ids, results, settled_ok=status == 200, retry_after=retry_after)
    detail = _detail(parsed, body)
    if status == 401:
        return _stall(event_ids, f"401 the API key is missing, unknown or revoked: {detail}")
    if status == 403:
        return _forbidden(event_ids, detail)
    if status in _REQUEST_REFUSALS:
        return _refused_whole(event_ids, status, detail)
    if status in _RETRY_STATUSES or status >= 500:
        return _retry_all(event_ids, f"{status} {detail}", retry_after)
    return _stall(event_ids, f"{status} unexpected answer (wrong URL?): {detail}")


def _per_event(
    event_ids: Sequence[str],
    results: list[Any],
    *,
    settled_ok: bool,
    retry_after: float | None,
) -> Verdict:
    """Fates from the per-event results; only a 200 settles an event as sent."""
    verdicts: dict[str, EventVerdict] = {}
    accepted = 0
    for result in results:
        if not isinstance(result, dict):
            continue
        index = result.get("index")
        if not isinstance(index, int) or not 0 <= index < len(event_ids):
            continue
        event_id = event_ids[index]
        named = result.get("event_id")
        if named is not None and str(named) != event_id:
            continue  # an answer about another event never settles this one
        status = str(result.get("status"))
        if status in SETTLED:
            if settled_ok:
                verdicts[event_id] = EventVerdict(Fate.SENT, status)
                accepted += 1
            else:
                verdicts[event_id] = EventVerdict(Fate.RETRY, f"{status} in a 503")
        elif status == "rejected":
            reason = json.dumps(result.get("errors", []), ensure_ascii=False)
            verdicts[event_id] = EventVerdict(Fate.REJECTED, "422", reason)
        else:
            verdicts[event_id] = EventVerdict(Fate.RETRY, status, _reasons(result))
    for event_id in event_ids:
        verdicts.setdefault(event_id, EventVerdict(Fate.RETRY, "missing from the answer"))
    retrying = sum(1 for v in verdicts.values() if v.fate is Fate.RETRY)
    summary = f"{accepted} sent, {retrying} to retry"
    return Verdict(
        verdicts,
        retry_after=retry_after if retrying else None,
        summary=summary,
        accepted=accepted,
    )


def _forbidden(event_ids: Sequence[str], detail: str) -> Verdict:
    """403: one event the key may not post (rejected), or the key itself lacks the scope."""
    named = _EVENT_INDEX.match(detail)
    if named is not None and int(named.group(1)) < len(event_ids):
        culprit = event_ids[int(named.group(1))]
        verdicts = {
            event_id: EventVerdict(Fate.RETRY, "403 for another event") for event_id in event_ids
        }
        verdicts[culprit] = EventVerdict(Fate.REJECTED, "403", detail)
        return Verdict(verdicts, resend_now=True, summary=f"403 {detail}")
    if len(event_ids) == 1 and _KEY_LEVEL_SCOPE.match(detail) is None:
        return Verdict(
            {event_ids[0]: EventVerdict(Fate.REJECTED, "403", detail)}, summary=f"403 {detail}"
        )
    return _stall(event_ids, f"403 the API key may not post events: {detail}")


def _refused_whole(event_ids: Sequence[str], status: int, detail: str) -> Verdict:
    """400/413/415/422 on the whole request: split a batch; a lone event is rejected."""
    if len(event_ids) > 1:
        verdicts = {
            event_id: EventVerdict(Fate.RETRY, f"{status}, split") for event_id in event_ids
        }
        return Verdict(verdicts, split=True, summary=f"{status} {detail}")
    [event_id] = event_ids
    return Verdict(
        {event_id: EventVerdict(Fate.REJECTED, str(status), detail)}, summary=f"{status} {detail}"
    )


def _retry_all(event_ids: Sequence[str], why: str, retry_after: float | None) -> Verdict:
    verdicts = {
        event_id: EventVerdict(Fate.RETRY, why.split(" ", 1)[0], why) for event_id in event_ids
    }
    return Verdict(verdicts, retry_after=retry_after, summary=why)


def _stall(event_ids: Sequence[str], why: str) -> Verdict:
    verdicts = {event_id: EventVerdict(Fate.RETRY, "stalled", why) for event_id in event_ids}
    return Verdict(verdicts, stalled=why, summary=why)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if headers is None:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _detail(parsed: Any, body: bytes) -> str:
    """The server's reason: its `detail` (a message or the field errors), else the raw body."""
    if isinstance(parsed, dict) and "detail" in parsed:
        detail = parsed["detail"]
        return detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    return body[:500].decode("utf-8", "replace")


def _reasons(result: dict[str, Any]) -> str | None:
    errors = result.get("errors")
    return json.dumps(errors, ensure_ascii=False) if errors else None
