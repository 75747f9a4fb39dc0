"""The one error policy: what a database failure means and what the caller does about it.

Every service asks the same question of an exception raised while talking to PostgreSQL:
run the transaction again now (a conflict between concurrent transactions), answer 503 and
try again later (the server is down, restarting, out of resources or the pool is exhausted),
or stop, because retrying cannot help (the statement or the data is wrong). The answer is
given here, by SQLSTATE class and exception type, and nowhere else.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# Serialization failure and deadlock: the server rolled back one of two racing transactions.
CONFLICT_SQLSTATES = ("40001", "40P01")
# Connection exceptions, operator intervention (shutdown, restart), insufficient resources.
OUTAGE_SQLSTATE_CLASSES = ("08", "57P", "53")
# Data exceptions and integrity violations: this input can never be stored as it is.
DATA_SQLSTATE_CLASSES = ("22", "23")


class DbFailure(StrEnum):
    """What a database exception means for the caller."""

    CONFLICT = "conflict"
    """Lost a race with another transaction: run the whole transaction again at once."""
    OUTAGE = "outage"
    """The server cannot answer now: back off and retry, or answer 503 with Retry-After."""
    DATA = "data"
    """The server refuses this data (bad text, out-of-range number): retrying cannot help."""
    BUG = "bug"
    """Anything else (a wrong statement, a missing table): a defect, not a condition."""


def get_sqlstate(exc: BaseException) -> str:
    """The SQLSTATE the server sent with this error, or '' when there is none."""
    origin = exc.orig if isinstance(exc, DBAPIError) else None
    for candidate in (origin, getattr(origin, "__cause__", None), exc.__cause__):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if code:
            return str(code)
    return ""


def classify(exc: BaseException) -> DbFailure:
    """The policy: CONFLICT, OUTAGE, DATA or BUG, from the SQLSTATE first, then the type."""
    sqlstate = get_sqlstate(exc)
    if sqlstate.startswith(CONFLICT_SQLSTATES):
        return DbFailure.CONFLICT
    if sqlstate.startswith(OUTAGE_SQLSTATE_CLASSES):
        return DbFailure.OUTAGE
    if sqlstate.startswith(DATA_SQLSTATE_CLASSES):
        return DbFailure.DATA
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return DbFailure.OUTAGE
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return DbFailure.OUTAGE
    if isinstance(exc, OSError | ConnectionError | TimeoutError):
        return DbFailure.OUTAGE
    return DbFailure.BUG


def is_conflict(exc: BaseException) -> bool:
    """A lost race between transactions: safe and useful to run the transaction again now."""
    return classify(exc) is DbFailure.CONFLICT


def is_outage(exc: BaseException) -> bool:
    """The database cannot answer now: 503 with Retry-After, or wait and try again."""
    return classify(exc) is DbFailure.OUTAGE


def is_retryable(exc: BaseException) -> bool:
    """A conflict or an outage: the same transaction may succeed if run again."""
    return classify(exc) in (DbFailure.CONFLICT, DbFailure.OUTAGE)
