"""JSON logs keep their numbers and timestamps while personal data is scrubbed."""

from __future__ import annotations

import json
import logging

import pytest

from touchpoint_common.observability.logging import configure_logging, scrub


def test_json_log_scrubs_personal_data_only(capsys: pytest.CaptureFixture[str]) -> None:
    """Numeric placeholders still format, the time stays a time, and e-mails and phone numbers
    in the message, extras and tracebacks are replaced."""
    configure_logging(service="unit", level="INFO", json=True)
    logger = logging.getLogger("touchpoint.test")
    logger.info("took %.1fs for %d rows, mail %s", 1.25, 5, "ann@example.com")
    logger.info("extra", extra={"contact": "+44 20 7946 0958"})
    try:
        raise ValueError("bad phone +33 6 12 34 56 78")
    except ValueError:
        logger.exception("failed")
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    logging.getLogger().handlers.clear()

    assert records[0]["message"] == "took 1.2s for 5 rows, mail [email]"
    assert records[0]["time"][:2] == "20"
    assert "[phone]" not in records[0]["time"]
    assert records[1]["contact"] == "[phone]"
    assert "+33" not in records[2]["exc_info"]
    assert "[phone]" in records[2]["exc_info"]
    assert all(record["service"] == "unit" for record in records)


@pytest.mark.parametrize(
    "phone",
    ["+86 138 1234 5678", "13812345678", "(+86) 138-1234-5678", "call 0086 13812345678 now"],
)
def test_scrub_removes_phones_in_any_format(phone: str) -> None:
    """Every common way of writing a number is replaced, so none of its digits survive."""
    scrubbed = scrub(phone)
    assert "[phone]" in scrubbed
    assert "1234" not in scrubbed


@pytest.mark.parametrize(
    "kept",
    [
        "event 12345678-1234-4678-9012-345678901234 accepted",
        "event 550e8400-e29b-41d4-a716-446655440000 accepted",
        "digest 3f7a1234567890bcde",
        "at 2026-11-23 10:41:29",
    ],
)
def test_scrub_keeps_ids_digests_and_dates(kept: str) -> None:
    """Event ids, digests and timestamps stay readable in logs: ops search by them."""
    assert scrub(kept) == kept
