"""The one database error policy: which failures are retried, answered 503, or surface."""

from __future__ import annotations

from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from touchpoint_common.db.errors import (
    DbFailure,
    classify,
    get_sqlstate,
    is_conflict,
    is_outage,
    is_retryable,
)


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


class WrappedDriverError(Exception):
    """asyncpg's error sits behind the DBAPI adapter's as its __cause__."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.__cause__ = DriverError(sqlstate)


def test_deadlocks_and_serialization_failures_are_conflicts() -> None:
    """40P01 and 40001 mean "run the transaction again"; other errors do not."""
    assert is_conflict(DBAPIError("x", {}, DriverError("40P01")))
    assert is_conflict(OperationalError("x", {}, DriverError("40001")))
    assert is_conflict(DBAPIError("x", {}, WrappedDriverError("40P01")))
    assert not is_conflict(DBAPIError("x", {}, DriverError("23505")))
    assert not is_conflict(ValueError("40P01"))


def test_outages_are_retryable_but_bugs_are_not_hidden() -> None:
    """Connection trouble, restarts and timeouts are outages; SQL mistakes are bugs."""
    assert is_outage(OperationalError("x", {}, DriverError("08006")))
    assert is_outage(DBAPIError("x", {}, DriverError("57P01")))  # admin shutdown
    assert is_outage(DBAPIError("x", {}, DriverError("53300")))  # too many connections
    assert is_outage(InterfaceError("x", {}, Exception("closed")))
    assert is_outage(PoolTimeout())
    assert is_outage(ConnectionRefusedError())
    assert is_outage(TimeoutError())
    assert classify(ProgrammingError("x", {}, DriverError("42P01"))) is DbFailure.BUG
    assert classify(RuntimeError("boom")) is DbFailure.BUG
    assert not is_retryable(ProgrammingError("x", {}, DriverError("42P01")))


def test_refused_data_is_never_retried() -> None:
    """A NUL in text (22P05), an out-of-range integer (22003) or a broken constraint is DATA."""
    for sqlstate in ("22P05", "22003", "23505"):
        exc = DataError("x", {}, DriverError(sqlstate))
        assert classify(exc) is DbFailure.DATA
        assert not is_retryable(exc)
    assert classify(IntegrityError("x", {}, DriverError("23505"))) is DbFailure.DATA


def test_sqlstate_is_read_from_the_driver_or_its_cause() -> None:
    """The code comes from the DBAPI error, its cause, or is '' for non-database errors."""
    assert get_sqlstate(DBAPIError("x", {}, DriverError("08006"))) == "08006"
    assert get_sqlstate(DBAPIError("x", {}, WrappedDriverError("40001"))) == "40001"
    assert get_sqlstate(ValueError("nope")) == ""
