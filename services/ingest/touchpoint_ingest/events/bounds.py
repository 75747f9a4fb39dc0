"""Pure bounds on request bodies: their shape before parsing, what can be stored after.

`measure` looks at the raw bytes without building a single Python object: how deep the
brackets nest and how many JSON values the body holds (strings are skipped, so a bracket
inside a string does not count). The views refuse a body over either bound before `json`
builds it, so a nested or flooded body costs a few C-level passes over its bytes, never a
RecursionError or megabytes of objects.

`unstorable` walks a parsed body and names every value that could not travel or be stored
downstream: strings PostgreSQL `jsonb` refuses (NUL, lone surrogates), control characters,
integers over 64 bits (orjson, `bigint`) and numbers beyond a double.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate, count
from typing import Any

from touchpoint_ingest.events.validation import Path, Violation

# A string token; an unterminated one runs to the end (possessive: never backtracks, so a
# body of unmatched quotes stays linear).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_OPENERS, _SEPARATOR, _CLOSERS = b"[{", b",", b"]}"
_KEEP = _OPENERS + _SEPARATOR + _CLOSERS
_DROP = bytes(byte for byte in range(256) if byte not in _KEEP)
# Openers weigh 2, separators 1, closers 0: the running sum minus the position is the depth.
_WEIGHTS = bytes.maketrans(_KEEP, b"\x02\x02\x01\x00\x00")

INT64_MAX = 2**63 - 1
# Free text may hold tabs and line breaks; every other string holds no control character.
FREE_TEXT_FIELDS = frozenset({"text", "reason", "resolution"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Shape:
    """How deep a JSON body nests and how many values it holds (an upper estimate)."""

    depth: int
    values: int


def measure(body: bytes) -> Shape:
    """The bracket depth and value count of a JSON body, from its bytes alone."""
    structure = _STRING.sub(b"", body).translate(_WEIGHTS, _DROP)
    depth = max(map(operator.sub, accumulate(structure), count(1)), default=0)
    return Shape(depth=max(depth, 0), values=len(structure) - structure.count(b"\x00") + 1)


def unstorable(raw: Any, path: Path = ("body",)) -> list[Violation]:
    """Every string, key or number in `raw` that could not be stored downstream, by path."""
    violations: list[Violation] = []
    _walk(raw, tuple(path), violations, free_text=False)
    return violations


def _walk(
    value: Any, path: tuple[str | int, ...], out: list[Violation], *, free_text: bool
) -> None:
    """Check one value and, for containers, everything under it."""
    if isinstance(value, str):
        reason = _string_problem(value, free_text=free_text)
        if reason is not None:
            out.append(Violation.at(path, reason[0], reason[1]))
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            out.append(Violation.at(path, "integer out of range (at most 64 bits)", "int_range"))
    elif isinstance(value, Decimal | float):
        if not math.isfinite(float(value)):
            out.append(Violation.at(path, "number out of range (beyond a double)", "num_range"))
    elif isinstance(value, dict):
        for key, item in value.items():
            key_problem = _string_problem(key, free_text=False)
            if key_problem is not None:
                out.append(Violation.at(path, f"a key: {key_problem[0]}", key_problem[1]))
                continue
            _walk(item, (*path, key), out, free_text=key in FREE_TEXT_FIELDS)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, (*path, index), out, free_text=False)


def _string_problem(value: str, *, free_text: bool) -> tuple[str, str] | None:
    """Why this string cannot be stored (reason, code), or None."""
    if "\x00" in value:
        return "NUL characters (\\u0000) cannot be stored", "nul_character"
    if _SURROGATE.search(value):
        return "invalid unicode: a lone surrogate (\\ud800-\\udfff)", "invalid_unicode"
    controls = _CONTROL_BUT_LINES if free_text else _CONTROL
    if controls.search(value):
        allowed = " (tab and line breaks are allowed in free text)" if free_text else ""
        return f"control characters are not allowed{allowed}", "control_character"
    return None
