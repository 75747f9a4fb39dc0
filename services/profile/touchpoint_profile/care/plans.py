"""Tier service plans: the minimum care contacts a customer of each ABC tier gets a month.

Brief, section 5: "a visiting/calling plan per tier (the texts give A: visit 3x a month, call
2-3x; B: visit 2x, call 1-2x; C: visit 1x, call 1x)". The minimum of each range is the
default; the worklist lists customers who got fewer contacts of either kind in the last
`care_plan_days` (calls that were not dropped and store visits, folded per day).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from touchpoint_profile.fold.care import CARE_CONTACTS_KEPT


class CarePlan(BaseModel):
    """The minimum care contacts of one tier per plan period (0: none required)."""

    model_config = ConfigDict(frozen=True)

    visits: int = Field(ge=0, le=CARE_CONTACTS_KEPT)
    calls: int = Field(ge=0, le=CARE_CONTACTS_KEPT)


class CarePlans(BaseModel):
    """The plan of each tier; defaults are the brief's figures (the low end of each range)."""

    model_config = ConfigDict(frozen=True)

    A: CarePlan = CarePlan(visits=3, calls=2)
    B: CarePlan = CarePlan(visits=2, calls=1)
    C: CarePlan = CarePlan(visits=1, calls=1)

    @model_validator(mode="before")
    @classmethod
    def _keep_unset_defaults(cls, data: Any) -> Any:
        """TOUCHPOINT_CARE_PLANS__A__CALLS=3 alone keeps A's default visits."""
        if not isinstance(data, dict):
            return data
        filled = dict(data)
        for tier, given in data.items():
            default = cls.model_fields[tier].default if tier in cls.model_fields else None
            if isinstance(given, dict) and isinstance(default, CarePlan):
                filled[tier] = {**default.model_dump(), **given}
        return filled
