"""Structured JSON logs with request and event ids; personal data is scrubbed on the way out."""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Defence in depth: code never logs identifiers on purpose, but a stray exception message might.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# A phone is a free-standing run of digits and separators: digit runs inside ids (UUIDs, hex
# digests) and ISO dates are not phones, and scrubbing them would hide the event ids ops need.
_PHONE = re.compile(r"(?<![\w-])(?!\d{4}-\d{2}-\d{2})\+?\d[\d ()\-]{6,}\d(?![\w-])")


# E.164 allows at most 15 digits; longer runs are ids, not numbers anyone can dial.
_MAX_PHONE_DIGITS = 15


def _phone_or_kept(match: re.Match[str]) -> str:
    digits = sum(char.isdigit() for char in match.group())
    return "[phone]" if digits <= _MAX_PHONE_DIGITS else match.group()


def scrub(text: str) -> str:
    """Replace anything shaped like an e-mail address or a phone number."""
    return _PHONE.sub(_phone_or_kept, _EMAIL.sub("[email]", text))


class ScrubbingFilter(logging.Filter):
    """Adds the request id and removes personal data from the message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        # Merge the arguments first: scrubbing them one by one would turn numbers into strings
        # and break "%d" / "%.1f" placeholders.
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg} {record.args!r}"
        record.msg = scrub(message)
        record.args = None
        return True


class ScrubbingJsonFormatter(JsonFormatter):
    """JSON formatter whose string fields (tracebacks and extras included) are scrubbed too.

    The timestamp is left alone: "2026-01-02 10:11" would otherwise look like a phone number.
    """

    def process_log_record(self, log_record: dict[str, Any]) -> dict[str, Any]:
        return {
            key: scrub(value) if isinstance(value, str) and key != "time" else value
            for key, value in super().process_log_record(log_record).items()
        }


def configure_logging(*, service: str, level: str = "INFO", json: bool = True) -> None:
    """Route the root logger to stdout as one JSON object per line."""
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(ScrubbingFilter())
    fields = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"
    formatter: logging.Formatter
    if json:
        formatter = ScrubbingJsonFormatter(
            fields,
            rename_fields={"levelname": "level", "asctime": "time"},
            static_fields={"service": service},
        )
    else:
        formatter = logging.Formatter(f"{service} %(levelname)s %(name)s %(message)s")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def log_extra(**fields: Any) -> dict[str, Any]:
    """Extra fields for a log call, e.g. `logger.info("sent", extra=log_extra(event_id=...))`."""
    return fields
