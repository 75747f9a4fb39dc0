"""JSON logs keep their numbers and timestamps while personal data is scrubbed."""

from __future__ import annotations

import json
import logging

import pytest

from touchpoint_common.observability.logging import configure_logging


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
