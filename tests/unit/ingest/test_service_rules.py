"""Which database errors are retried, answered 503, or left to surface as bugs."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from touchpoint_ingest.events.service import is_outage, is_transient_conflict


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def test_deadlocks_and_serialization_failures_are_retried() -> None:
    """40P01 and 40001 mean "run the transaction again"; other errors do not."""
    assert is_transient_conflict(DBAPIError("x", {}, DriverError("40P01")))
    assert is_transient_conflict(OperationalError("x", {}, DriverError("40001")))
    assert not is_transient_conflict(DBAPIError("x", {}, DriverError("23505")))
    assert not is_transient_conflict(ValueError("40P01"))


def test_outages_are_503_but_bugs_are_not_hidden() -> None:
    """Connection trouble and timeouts become 503; SQL mistakes and integrity errors do not."""
    assert is_outage(OperationalError("x", {}, DriverError("08006")))
    assert is_outage(ConnectionRefusedError())
    assert is_outage(TimeoutError())
    assert not is_outage(ProgrammingError("x", {}, DriverError("42P01")))
    assert not is_outage(IntegrityError("x", {}, DriverError("23505")))
