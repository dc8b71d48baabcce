"""The case-file declarations: a case's ``counterfactual:`` entry and a ``fairness:`` group."""

from __future__ import annotations

import pydantic


class FairnessSpec(pydantic.BaseModel):
    """A case file's ``fairness:`` group: its cases' counterfactual results, per category."""

    model_config = pydantic.ConfigDict(extra="forbid")

    max_gap: float | None = pydantic.Field(default=None, ge=0, le=1)


class CounterfactualSpec(pydantic.BaseModel):
    """A case's ``counterfactual:`` entry."""

    model_config = pydantic.ConfigDict(extra="forbid")

    categories: list[str] = pydantic.Field(min_length=1)
    tolerance: float = pydantic.Field(default=0.0, ge=0)
    min_similarity: float | None = pydantic.Field(default=None, ge=0, le=1)
